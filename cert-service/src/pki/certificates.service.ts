import { createPublicKey, type KeyObject, X509Certificate, verify as verifySignature } from 'node:crypto';
import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { LOGGER } from '@spincycle/common/nest';
import { BrokerSessions } from '../broker/broker-sessions.js';
import type { Logger } from '@spincycle/common';
import { AuthorizationCache } from '../acl/authorization-cache.js';
import { FactsRepository } from '../facts/facts.repository.js';
import { SecretHasher } from '../facts/secret-hasher.js';
import { DEVICE_CERTIFICATE_DAYS } from '../tokens.js';
import { BackendRevocations } from './backend-revocations.js';
import {
  CertificatesRepository,
  type CertificateRecord,
  type NewCertificate,
} from './certificates.repository.js';
import {
  normalizeSerial,
  PKI_BACKEND,
  type IssuedKeyPair,
  type PkiBackend,
  type SignedCertificate,
} from './pki-backend.js';
import { DeviceCsr, pemToDer } from './x509-util.js';

export class EnrolmentRefused extends Error {}
export class CsrInvalid extends Error {}
export class CertificateNotFound extends NotFoundException {}

export type EnrolmentProof =
  | { kind: 'enrolment-secret'; secret: string }
  /** A signature over the CSR's DER bytes by the key of the device's current certificate. */
  | { kind: 'current-certificate'; certificatePem: string; signature: Buffer };

/** Enrolment, legacy issue, revocation and the CRL: the rules; the CA itself is the PkiBackend. */
@Injectable()
export class CertificatesService {
  constructor(
    @Inject(PKI_BACKEND) private readonly backend: PkiBackend,
    private readonly certificates: CertificatesRepository,
    private readonly facts: FactsRepository,
    private readonly hasher: SecretHasher,
    private readonly cache: AuthorizationCache,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly brokers: BrokerSessions,
    private readonly backendRevocations: BackendRevocations,
    @Inject(DEVICE_CERTIFICATE_DAYS) private readonly validityDays: number,
  ) {}

  async enrol(deviceId: string, csrPem: string, proof: EnrolmentProof): Promise<SignedCertificate> {
    const csr = this.verifiedCsr(csrPem);
    try {
      const secretHash = await this.checkProof(deviceId, csr, proof);
      const signed = await this.backend.signCsr({ csrPem, csr, deviceId, validityDays: this.validityDays });
      const record = { ...signed, deviceId, issuedVia: 'csr' } as const;
      if (secretHash === null) {
        await this.certificates.record(record);
      } else if (!(await this.certificates.recordSpendingSecret(record, secretHash))) {
        await this.revokeUnclaimed(record);
        throw new EnrolmentRefused('enrolment secret invalid or already used');
      }
      this.logger.info({ deviceId, serial: signed.serial, via: proof.kind }, 'device certificate issued');
      return signed;
    } catch (err) {
      // The device hears only "not authorised" (no oracle); the log says why.
      if (err instanceof EnrolmentRefused) {
        this.logger.warn({ deviceId, via: proof.kind, reason: err.message }, 'device enrolment refused');
      }
      throw err;
    }
  }

  /**
   * Returns the enrolment secret's stored hash, to be spent with the certificate's record (so two
   * enrolments racing with one secret cannot both pass, and a failed signing spends nothing), or
   * null for a renewal.
   */
  private async checkProof(deviceId: string, csr: DeviceCsr, proof: EnrolmentProof): Promise<Buffer | null> {
    if (proof.kind === 'current-certificate') {
      const status = (await this.facts.findDevice(deviceId))?.status;
      if (status !== 'active') throw new EnrolmentRefused(`device ${status ?? 'unknown'}, not active`);
      await this.checkRenewalProof(deviceId, csr, proof);
      return null;
    }
    // Only an active device's hash is read and spent, so a suspended device enrols once reinstated.
    const stored = await this.facts.enrolmentSecretHash(deviceId);
    if (!this.hasher.matches('enrolment-secret', proof.secret, stored) || stored === null) {
      const status = (await this.facts.findDevice(deviceId))?.status;
      throw new EnrolmentRefused(
        status === 'active'
          ? 'enrolment secret invalid or already used'
          : `device ${status ?? 'unknown'}, not active`,
      );
    }
    return stored;
  }

  /**
   * The CA signed for an enrolment whose secret another spent first. That certificate could not
   * connect (the broker wants a recorded, active serial), but it would be valid for a year, and in
   * Vault's own list, while recorded nowhere: it is recorded revoked instead, and revoked at the
   * backend, so that it is in the CRL and in the device's history.
   */
  private async revokeUnclaimed(record: NewCertificate): Promise<void> {
    await this.certificates.record(record);
    await this.revoked(
      await this.certificates.revoke({ serial: record.serial }, 'enrolment_lost'),
      'enrolment_lost',
    );
  }

  /** Key and certificate made by the CA for devices that cannot make keys; only the serial is kept. */
  async issueLegacy(deviceId: string): Promise<IssuedKeyPair> {
    if ((await this.facts.findDevice(deviceId))?.status !== 'active')
      throw new CertificateNotFound('no active device');
    const issued = await this.backend.issueWithKey({ deviceId, validityDays: this.validityDays });
    await this.certificates.record({ ...issued, deviceId, issuedVia: 'legacy' });
    this.logger.info({ deviceId, serial: issued.serial }, 'legacy device key and certificate issued');
    return issued;
  }

  async find(serial: string): Promise<CertificateRecord> {
    const record = await this.certificates.find(serial);
    if (record === null) throw new CertificateNotFound('unknown serial');
    return record;
  }

  listForDevice(deviceId: string): Promise<CertificateRecord[]> {
    return this.certificates.listForDevice(deviceId);
  }

  async revokeSerial(serial: string, reason: string): Promise<CertificateRecord> {
    await this.find(serial);
    await this.revoked(await this.certificates.revoke({ serial }, reason), reason);
    return this.find(serial);
  }

  async revokeDevice(deviceId: string, reason: string): Promise<CertificateRecord[]> {
    return this.revoked(await this.certificates.revoke({ deviceId }, reason), reason);
  }

  /** The broker's view on connect: a presented certificate must be ours, current and the device's. */
  async presentedCertificateValid(deviceId: string, certificateDer: Buffer, now: Date): Promise<boolean> {
    return (await this.currentRecordOf(deviceId, certificateDer, now)) !== undefined;
  }

  /**
   * A device connected with this certificate: any older certificate it still holds was replaced
   * by a renewal and is revoked now that the new one is known to work.
   */
  async acceptConnection(deviceId: string, certificateDer: Buffer, now: Date): Promise<boolean> {
    const record = await this.currentRecordOf(deviceId, certificateDer, now);
    if (record === undefined) return false;
    await this.revoked(await this.certificates.revokeReplacedBy(record), 'superseded');
    return true;
  }

  private async currentRecordOf(
    deviceId: string,
    certificateDer: Buffer,
    now: Date,
  ): Promise<CertificateRecord | undefined> {
    let serial: string;
    try {
      serial = normalizeSerial(new X509Certificate(certificateDer).serialNumber);
    } catch {
      return undefined;
    }
    const record = await this.certificates.find(serial);
    const current =
      record !== null &&
      record.deviceId === deviceId &&
      record.status === 'active' &&
      record.notBefore.getTime() <= now.getTime() &&
      now.getTime() < record.notAfter.getTime();
    return current ? record : undefined;
  }

  async crl(): Promise<{ pem: string; der: Buffer }> {
    const pem = await this.backend.crlPem();
    return { pem, der: pemToDer(pem) };
  }

  caChainPem(): Promise<string[]> {
    return this.backend.caChainPem();
  }

  private async revoked(records: CertificateRecord[], reason: string): Promise<CertificateRecord[]> {
    for (const record of records) {
      await this.cache.deviceChanged(record.deviceId);
      this.logger.info(
        { deviceId: record.deviceId, serial: record.serial, reason },
        'device certificate revoked',
      );
    }
    // The record is authoritative for the broker at once; the backend's CRL follows, retried if need be.
    await this.backendRevocations.revokeAtBackend(records.map((r) => r.serial));
    if (records.length > 0) this.brokers.certificatesRevoked();
    return records;
  }

  private verifiedCsr(csrPem: string): DeviceCsr {
    let csr: DeviceCsr;
    try {
      csr = new DeviceCsr(csrPem);
    } catch {
      throw new CsrInvalid('not a PEM PKCS#10 certificate request');
    }
    // node:crypto rather than csr.verify(): the same OpenSSL check, without WebCrypto's key import
    // and signature re-encoding, which cost three times as much.
    let key: KeyObject;
    try {
      key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
    } catch {
      throw new CsrInvalid('the CSR key must be ECDSA P-256');
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new CsrInvalid('the CSR key must be ECDSA P-256');
    }
    if (!csrSignatureVerifies(csr, key)) throw new CsrInvalid('the CSR signature does not verify');
    return csr;
  }

  private async checkRenewalProof(
    deviceId: string,
    csr: DeviceCsr,
    proof: Extract<EnrolmentProof, { kind: 'current-certificate' }>,
  ): Promise<void> {
    let current: X509Certificate;
    try {
      current = new X509Certificate(proof.certificatePem);
    } catch {
      throw new EnrolmentRefused('current certificate unreadable');
    }
    const now = new Date();
    const issuedByUs = (await this.backend.caChainPem()).some((pem) => {
      const ca = new X509Certificate(pem);
      return current.checkIssued(ca) && current.verify(ca.publicKey);
    });
    const signatureValid = verifySignature(
      'sha256',
      Buffer.from(csr.rawData),
      { key: current.publicKey, dsaEncoding: 'der' },
      proof.signature,
    );
    const stillValid = await this.presentedCertificateValid(deviceId, current.raw, now);
    if (!issuedByUs || !signatureValid || !stillValid) {
      throw new EnrolmentRefused('current certificate invalid, revoked, expired or not this device');
    }
  }
}

/** The hashes the CSR may be signed with are those the x509 library maps for ECDSA. */
function csrSignatureVerifies(csr: DeviceCsr, key: KeyObject): boolean {
  const algorithm = csr.signatureAlgorithm as { name?: string; hash?: { name?: string } };
  const hash = algorithm.hash?.name?.replace('-', '').toLowerCase();
  if (algorithm.name !== 'ECDSA' || hash === undefined) return false;
  try {
    return verifySignature(hash, csr.signedBytes, { key, dsaEncoding: 'der' }, new Uint8Array(csr.signature));
  } catch {
    // A signature that is not even well-formed DER throws rather than failing to verify.
    return false;
  }
}
