import { KeyObject, sign, webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1X509 from '@peculiar/asn1-x509';
import { x509 } from './x509.js';
import { EncryptedKeyStore } from './key-store.js';
import {
  type IssuedKeyPair,
  type PkiBackend,
  type SignedCertificate,
  type SignRequest,
} from './pki-backend.js';
import { deviceCertificateExtensions, DeviceCsr, deviceSubject, randomSerial, toPem } from './x509-util.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const CA_VALIDITY_YEARS = 10;
const DAY_MS = 24 * 60 * 60 * 1000;
const CRL_VALIDITY_MS = DAY_MS;
const CRL_REBUILD_MS = 60_000;

export interface RevokedSerial {
  serial: string;
  revokedAt: Date;
}

/**
 * The embedded CA: an ECDSA P-256 root made on first start, its certificate in the clear and its
 * private key sealed by EncryptedKeyStore under DATA_DIR. Revocations live in cert-service's
 * certificate records, so the CRL is built from them.
 */
export class LocalCa implements PkiBackend {
  readonly name = 'local';
  /** Rebuilt on every revocation here, and at least once a minute for those made by other replicas. */
  private crlCache: { pem: string; builtAt: number } | undefined;
  private readonly chainPem: string[];
  /**
   * Device certificates are signed through node:crypto rather than WebCrypto: the same OpenSSL
   * signature, without a thread-pool round trip per certificate.
   */
  private readonly certificateSigningKey: KeyObject;
  private readonly signatureAlgorithm: asn1X509.AlgorithmIdentifier;
  private readonly issuerName: asn1X509.Name;
  private readonly authorityKeyIdentifierExtension: asn1X509.Extension;

  private constructor(
    private readonly certificate: x509.X509Certificate,
    private readonly signingKey: CryptoKey,
    private readonly revokedSerials: () => Promise<RevokedSerial[]>,
    private readonly authorityKeyIdentifier: x509.AuthorityKeyIdentifierExtension,
  ) {
    this.chainPem = [certificate.toString('pem')];
    this.certificateSigningKey = KeyObject.from(signingKey);
    this.signatureAlgorithm = new x509.AlgorithmProvider().toAsnAlgorithm(SIGNING);
    this.issuerName = AsnConvert.parse(certificate.subjectName.toArrayBuffer(), asn1X509.Name);
    this.authorityKeyIdentifierExtension = AsnConvert.parse(
      authorityKeyIdentifier.rawData,
      asn1X509.Extension,
    );
  }

  private static async create(
    certificate: x509.X509Certificate,
    signingKey: CryptoKey,
    revokedSerials: () => Promise<RevokedSerial[]>,
  ): Promise<LocalCa> {
    const authorityKeyIdentifier = await x509.AuthorityKeyIdentifierExtension.create(certificate.publicKey);
    return new LocalCa(certificate, signingKey, revokedSerials, authorityKeyIdentifier);
  }

  static async open(options: {
    dir: string;
    encryptionKey: string | undefined;
    revokedSerials: () => Promise<RevokedSerial[]>;
  }): Promise<LocalCa> {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const store = new EncryptedKeyStore(options.dir, options.encryptionKey);
    const certFile = join(options.dir, 'ca.crt');
    const sealedKey = await store.load('ca-key');
    if (sealedKey !== undefined) {
      const certificate = new x509.X509Certificate(await readFile(certFile, 'utf8'));
      const key = await webcrypto.subtle.importKey('pkcs8', sealedKey, EC_P256, false, ['sign']);
      return LocalCa.create(certificate, key as CryptoKey, options.revokedSerials);
    }
    const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
    const now = new Date();
    const notAfter = new Date(now);
    notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: new x509.Name([{ CN: ['Spincycle device CA'] }, { O: ['Spincycle'] }]),
      notBefore: now,
      notAfter,
      keys,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    await store.save('ca-key', new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)));
    await writeFile(certFile, certificate.toString('pem'), { mode: 0o644 });
    return LocalCa.create(certificate, keys.privateKey, options.revokedSerials);
  }

  async signCsr(request: SignRequest): Promise<SignedCertificate> {
    const csr = request.csr ?? new DeviceCsr(request.csrPem);
    return this.issue(request.deviceId, csr.subjectPublicKeyInfo, request.validityDays);
  }

  async issueWithKey(request: { deviceId: string; validityDays: number }): Promise<IssuedKeyPair> {
    const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
    const signed = await this.issue(
      request.deviceId,
      AsnConvert.parse(
        await webcrypto.subtle.exportKey('spki', keys.publicKey),
        asn1X509.SubjectPublicKeyInfo,
      ),
      request.validityDays,
    );
    const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
    return { ...signed, privateKeyPem: toPem(new Uint8Array(pkcs8), 'PRIVATE KEY') };
  }

  /** The record holds the revocation; the next CRL must include it. */
  async revoke(): Promise<void> {
    this.crlCache = undefined;
  }

  async caChainPem(): Promise<string[]> {
    return [...this.chainPem];
  }

  async crlPem(): Promise<string> {
    if (this.crlCache !== undefined && Date.now() - this.crlCache.builtAt < CRL_REBUILD_MS)
      return this.crlCache.pem;
    const revoked = await this.revokedSerials();
    const now = new Date();
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.certificate.subjectName,
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + CRL_VALIDITY_MS),
      entries: revoked.map((r) => ({ serialNumber: r.serial, revocationDate: r.revokedAt })),
      signingAlgorithm: SIGNING,
      signingKey: this.signingKey,
      extensions: [this.authorityKeyIdentifier],
    });
    // RFC 7468's label, which OpenSSL and Erlang's public_key (VerneMQ's crlfile) read.
    const pem = toPem(new Uint8Array(crl.rawData), 'X509 CRL');
    this.crlCache = { pem, builtAt: now.getTime() };
    return pem;
  }

  /**
   * Built from the ASN.1 structures directly rather than X509CertificateGenerator, which encodes
   * every name and extension, parses them back, and parses the finished certificate again: most of
   * an enrolment's CPU time went there.
   */
  private async issue(
    deviceId: string,
    publicKey: asn1X509.SubjectPublicKeyInfo,
    validityDays: number,
  ): Promise<SignedCertificate> {
    const serial = randomSerial();
    // Whole seconds, as the certificate encodes them, so the record says what the certificate says.
    const notBefore = new Date(Math.floor((Date.now() - 60_000) / 1000) * 1000);
    const notAfter = new Date(notBefore.getTime() + validityDays * DAY_MS);
    const tbsCertificate = new asn1X509.TBSCertificate({
      version: asn1X509.Version.v3,
      serialNumber: new Uint8Array(Buffer.from(serial, 'hex')).buffer,
      signature: this.signatureAlgorithm,
      issuer: this.issuerName,
      validity: new asn1X509.Validity({ notBefore, notAfter }),
      subject: deviceSubject(deviceId),
      subjectPublicKeyInfo: publicKey,
      extensions: deviceCertificateExtensions(publicKey, this.authorityKeyIdentifierExtension),
    });
    const signatureValue = sign('sha256', new Uint8Array(AsnConvert.serialize(tbsCertificate)), {
      key: this.certificateSigningKey,
      dsaEncoding: 'der',
    });
    const certificate = new asn1X509.Certificate({
      tbsCertificate,
      signatureAlgorithm: this.signatureAlgorithm,
      signatureValue: new Uint8Array(signatureValue).buffer,
    });
    return {
      certificatePem: toPem(new Uint8Array(AsnConvert.serialize(certificate)), 'CERTIFICATE'),
      chainPem: await this.caChainPem(),
      serial,
      notBefore,
      notAfter,
    };
  }
}
