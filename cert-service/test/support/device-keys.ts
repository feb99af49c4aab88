import { sign, webcrypto } from 'node:crypto';
import { x509 } from '../../src/pki/x509.js';

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** What a device does on its own: make a key pair and a CSR, and sign with its current key. */
export interface DeviceKeys {
  csrPem: string;
  csrDer: Buffer;
  privateKeyPem: string;
}

export async function makeCsr(
  subject = 'CN=whatever-the-device-asks',
  extensions: x509.Extension[] = [],
): Promise<DeviceKeys> {
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject,
    keys: keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'],
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    csrPem: csr.toString('pem'),
    csrDer: Buffer.from(csr.rawData),
    privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64')}\n-----END PRIVATE KEY-----\n`,
  };
}

/** The renewal proof: the current key's ECDSA-SHA256 signature (DER) over the new CSR, base64. */
export function renewalProof(currentKeyPem: string, csrDer: Buffer): string {
  return sign('sha256', csrDer, { key: currentKeyPem, dsaEncoding: 'der' }).toString('base64');
}

export function pemToDerBase64(pem: string): string {
  return pem.replace(/-----(BEGIN|END)[^-]+-----/g, '').replace(/\s+/g, '');
}
