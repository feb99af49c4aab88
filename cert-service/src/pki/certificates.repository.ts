import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { RevokedSerial } from './local-ca.js';

export type CertificateStatus = 'active' | 'revoked';

export interface CertificateRecord {
  serial: string;
  deviceId: string;
  notBefore: Date;
  notAfter: Date;
  status: CertificateStatus;
  issuedVia: 'csr' | 'legacy';
  revokedAt: Date | null;
  revocationReason: string | null;
}

interface CertificateRow {
  serial: string;
  device_id: string;
  not_before: Date;
  not_after: Date;
  status: CertificateStatus;
  issued_via: 'csr' | 'legacy';
  revoked_at: Date | null;
  revocation_reason: string | null;
}

const COLUMNS = 'serial, device_id, not_before, not_after, status, issued_via, revoked_at, revocation_reason';

const toRecord = (row: CertificateRow): CertificateRecord => ({
  serial: row.serial,
  deviceId: row.device_id,
  notBefore: row.not_before,
  notAfter: row.not_after,
  status: row.status,
  issuedVia: row.issued_via,
  revokedAt: row.revoked_at,
  revocationReason: row.revocation_reason,
});

export type NewCertificate = Omit<CertificateRecord, 'status' | 'revokedAt' | 'revocationReason'>;

const recordParams = (certificate: NewCertificate) => [
  certificate.serial,
  certificate.deviceId,
  certificate.notBefore,
  certificate.notAfter,
  certificate.issuedVia,
];

/** Issued certificates by serial: metadata only, never a key and never the certificate body. */
@Injectable()
export class CertificatesRepository {
  constructor(private readonly db: DataSource) {}

  async record(certificate: NewCertificate): Promise<void> {
    await this.db.query(
      `INSERT INTO certificates (serial, device_id, not_before, not_after, status, issued_via)
       VALUES ($1, $2, $3, $4, 'active', $5)`,
      recordParams(certificate),
    );
  }

  /**
   * Records a certificate issued against a device's one-time enrolment secret and spends the
   * secret, in one statement: false, and nothing recorded, when the secret was spent first or
   * the device is no longer active.
   */
  async recordSpendingSecret(certificate: NewCertificate, enrolmentSecretHash: Buffer): Promise<boolean> {
    const rows: { serial: string }[] = await this.db.query(
      `WITH spent AS (
         UPDATE devices SET enrolment_secret_hash = NULL, updated_at = now()
         WHERE id = $2 AND enrolment_secret_hash = $6 AND status = 'active'
         RETURNING id)
       INSERT INTO certificates (serial, device_id, not_before, not_after, status, issued_via)
       SELECT $1, id, $3, $4, 'active', $5 FROM spent
       RETURNING serial`,
      [...recordParams(certificate), enrolmentSecretHash],
    );
    return rows.length === 1;
  }

  async find(serial: string): Promise<CertificateRecord | null> {
    const rows: CertificateRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM certificates WHERE serial = $1`,
      [serial],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async listForDevice(deviceId: string): Promise<CertificateRecord[]> {
    const rows: CertificateRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM certificates WHERE device_id = $1 ORDER BY not_before DESC, serial`,
      [deviceId],
    );
    return rows.map(toRecord);
  }

  /** The device's active certificate that lasts longest, among those valid at `now`. */
  async newestActive(deviceId: string, now: Date): Promise<CertificateRecord | null> {
    const rows: CertificateRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM certificates
       WHERE device_id = $1 AND status = 'active' AND not_before <= $2 AND not_after > $2
       ORDER BY not_after DESC LIMIT 1`,
      [deviceId, now],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** Marks the serials revoked and returns the ones that were still active. */
  async revoke(
    where: { serial: string } | { deviceId: string },
    reason: string,
  ): Promise<CertificateRecord[]> {
    const [column, value] = 'serial' in where ? ['serial', where.serial] : ['device_id', where.deviceId];
    const rows: [CertificateRow[], number] = await this.db.query(
      `UPDATE certificates SET status = 'revoked', revoked_at = now(), revocation_reason = $2,
         backend_revocation_pending = true
       WHERE ${column} = $1 AND status = 'active' RETURNING ${COLUMNS}`,
      [value, reason],
    );
    return rows[0].map(toRecord);
  }

  /**
   * Revokes the device's other active certificates issued before this one: it replaced them.
   * Issue order is the record's creation time; certificate validity has one-second precision.
   */
  async revokeReplacedBy(current: CertificateRecord): Promise<CertificateRecord[]> {
    const rows: [CertificateRow[], number] = await this.db.query(
      `UPDATE certificates SET status = 'revoked', revoked_at = now(), revocation_reason = 'superseded',
         backend_revocation_pending = true
       WHERE device_id = $1 AND status = 'active' AND serial <> $2
         AND created_at < (SELECT created_at FROM certificates WHERE serial = $2)
       RETURNING ${COLUMNS}`,
      [current.deviceId, current.serial],
    );
    return rows[0].map(toRecord);
  }

  async revokedSerials(): Promise<RevokedSerial[]> {
    const rows: { serial: string; revoked_at: Date }[] = await this.db.query(
      "SELECT serial, revoked_at FROM certificates WHERE status = 'revoked' AND not_after > now() ORDER BY revoked_at",
    );
    return rows.map((r) => ({ serial: r.serial, revokedAt: r.revoked_at }));
  }

  /**
   * Revoked serials the PKI backend has not confirmed, oldest first. An expired certificate needs
   * no CRL entry, so it is no longer waited for.
   */
  async pendingBackendRevocations(limit: number): Promise<string[]> {
    const rows: { serial: string }[] = await this.db.query(
      `SELECT serial FROM certificates WHERE backend_revocation_pending AND not_after > now()
       ORDER BY revoked_at LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.serial);
  }

  async countPendingBackendRevocations(): Promise<number> {
    const rows: { count: number | string }[] = await this.db.query(
      'SELECT count(*) AS count FROM certificates WHERE backend_revocation_pending AND not_after > now()',
    );
    return Number(rows[0]?.count ?? 0);
  }

  async backendRevocationConfirmed(serial: string): Promise<void> {
    await this.db.query('UPDATE certificates SET backend_revocation_pending = false WHERE serial = $1', [
      serial,
    ]);
  }
}
