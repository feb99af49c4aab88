import { randomBytes } from 'node:crypto';
import { x509 } from './x509.js';

/** 128 random bits, positive and without a leading zero byte, so every encoding agrees on it. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 1) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

export function toPem(der: Uint8Array, label: string): string {
  const lines =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END)[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** A device certificate: end entity, signature only, client authentication only. */
export async function deviceCertificateExtensions(
  publicKey: x509.PublicKey,
  authorityKeyIdentifier: x509.AuthorityKeyIdentifierExtension,
): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    authorityKeyIdentifier,
  ];
}

/** The subject CN of a certificate, or undefined when it has none or several. */
export function commonNameOf(certificate: x509.X509Certificate): string | undefined {
  const names = certificate.subjectName.getField('CN');
  return names.length === 1 ? names[0] : undefined;
}

export function isClientAuthOnly(certificate: x509.X509Certificate): boolean {
  const eku = certificate.getExtension(x509.ExtendedKeyUsageExtension);
  return eku !== null && eku.usages.length === 1 && eku.usages[0] === x509.ExtendedKeyUsage.clientAuth;
}
