import { webcrypto } from 'node:crypto';
// @peculiar/x509 needs the Reflect metadata API loaded before it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

/** A throwaway device PKI for tests: a CA, device certificates and CRLs, as cert-service makes them. */
const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface TestCa {
  name: string;
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
  pem: string;
}

export interface TestDevice {
  cert: string;
  key: string;
  serial: string;
}

let serials = 1000;
const nextSerial = () => (serials++).toString(16).padStart(8, '0');
const keyPair = () =>
  webcrypto.subtle.generateKey(ECDSA, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
const day = 24 * 3600 * 1000;

export async function createCa(name = 'CN=Spincycle Test Device CA'): Promise<TestCa> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name,
    notBefore: new Date(Date.now() - day),
    notAfter: new Date(Date.now() + 30 * day),
    keys,
    signingAlgorithm: ECDSA,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { name, cert, keys, pem: cert.toString('pem') };
}

export async function issueDevice(
  ca: TestCa,
  deviceId: string,
  validity: { notBefore?: Date; notAfter?: Date } = {},
): Promise<TestDevice> {
  const keys = await keyPair();
  const serial = nextSerial();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: `CN=${deviceId}`,
    issuer: ca.cert.subject,
    notBefore: validity.notBefore ?? new Date(Date.now() - 3600_000),
    notAfter: validity.notAfter ?? new Date(Date.now() + 365 * day),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ECDSA,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: cert.toString('pem'), key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), serial };
}

export async function createCrl(ca: TestCa, revokedSerials: string[]): Promise<string> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subject,
    thisUpdate: new Date(Date.now() - 60_000),
    nextUpdate: new Date(Date.now() + day),
    entries: revokedSerials.map((serialNumber) => ({ serialNumber, revocationDate: new Date() })),
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ECDSA,
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey)],
  });
  return crl.toString('pem');
}
