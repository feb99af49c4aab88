import { X509Certificate, verify as verifySignature } from 'node:crypto';
import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { LOGGER } from '@spincycle/common/nest';
import { BrokerSessions } from '../broker/broker-sessions.js';
import type { Logger } from '@spincycle/common';
import { x509 } from './x509.js';
import { AuthorizationCache } from '../acl/authorization-cache.js';
import { FactsRepository } from '../facts/facts.repository.js';
import { SecretHasher } from '../facts/secret-hasher.js';
import { DEVICE_CERTIFICATE_DAYS } from '../tokens.js';
import { BackendRevocations } from './backend-revocations.js';
import { CertificatesRepository, type CertificateRecord } from './certificates.repository.js';
import {
  normalizeSerial,
  PKI_BACKEND,
  type IssuedKeyPair,
  type PkiBackend,
  type SignedCertificate,
} from './pki-backend.js';
import { pemToDer } from './x509-util.js';

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
    const csr = await this.verifiedCsr(csrPem);
    try {
      await this.checkProof(deviceId, csr, proof);
    } catch (err) {
      // The device hears only "not authorised" (no oracle); the log says why.
      if (err instanceof EnrolmentRefused) {
        this.logger.warn({ deviceId, via: proof.kind, reason: err.message }, 'device enrolment refused');
      }
      throw err;
    }
    const signed = await this.backend.signCsr({ csrPem, deviceId, validityDays: this.validityDays });
    await this.certificates.record({ ...signed, deviceId, issuedVia: 'csr' });
    this.logger.info({ deviceId, serial: signed.serial, via: proof.kind }, 'device certificate issued');
    return signed;
  }

  private async checkProof(
    deviceId: string,
    csr: x509.Pkcs10CertificateRequest,
    proof: EnrolmentProof,
  ): Promise<void> {
    // Checked before the secret is spent, so a suspended device enrols with it once reinstated.
    const status = (await this.facts.findDevice(deviceId))?.status;
    if (status !== 'active') throw new EnrolmentRefused(`device ${status ?? 'unknown'}, not active`);
    if (proof.kind === 'current-certificate') return this.checkRenewalProof(deviceId, csr, proof);
    const stored = await this.facts.enrolmentSecretHash(deviceId);
    // Spent atomically, so two enrolments racing with one secret cannot both pass.
    if (!this.hasher.matches('enrolment-secret', proof.secret, stored) || stored === null) {
      throw new EnrolmentRefused('enrolment secret invalid or already used');
    }
    if (!(await this.facts.consumeEnrolmentSecret(deviceId, stored))) {
      throw new EnrolmentRefused('enrolment secret invalid or already used');
    }
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

  private async verifiedCsr(csrPem: string): Promise<x509.Pkcs10CertificateRequest> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch {
      throw new CsrInvalid('not a PEM PKCS#10 certificate request');
    }
    const algorithm = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
    if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
      throw new CsrInvalid('the CSR key must be ECDSA P-256');
    }
    // A signature that is not even well-formed DER throws rather than failing to verify.
    const verified = await csr.verify().catch(() => false);
    if (!verified) throw new CsrInvalid('the CSR signature does not verify');
    return csr;
  }

  private async checkRenewalProof(
    deviceId: string,
    csr: x509.Pkcs10CertificateRequest,
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
