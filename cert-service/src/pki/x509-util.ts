import { createHash, randomBytes } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asn1X509 from '@peculiar/asn1-x509';
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

/** A device's PKCS#10 request, parsed once, with the parts enrolment checks and signs. */
export class DeviceCsr extends x509.Pkcs10CertificateRequest {
  /** The DER of certificationRequestInfo: what the CSR's signature covers. */
  get signedBytes(): Uint8Array {
    const info =
      this.asn.certificationRequestInfoRaw ?? AsnConvert.serialize(this.asn.certificationRequestInfo);
    return new Uint8Array(info);
  }

  get subjectPublicKeyInfo(): asn1X509.SubjectPublicKeyInfo {
    return this.asn.certificationRequestInfo.subjectPKInfo;
  }
}

/** id-at-commonName, RFC 5280 appendix A.1. */
const COMMON_NAME = '2.5.4.3';

/** CN = the device id and nothing else, in the string type x509.Name would choose for it. */
export function deviceSubject(deviceId: string): asn1X509.Name {
  const value = new asn1X509.AttributeValue(
    x509.Name.isPrintableString(deviceId) ? { printableString: deviceId } : { utf8String: deviceId },
  );
  return new asn1X509.Name([
    new asn1X509.RelativeDistinguishedName([
      new asn1X509.AttributeTypeAndValue({ type: COMMON_NAME, value }),
    ]),
  ]);
}

/** End entity, signature only, client authentication only: the same for every device. */
const USAGE_EXTENSIONS = [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
].map((extension) => AsnConvert.parse(extension.rawData, asn1X509.Extension));

/** A device certificate's extensions: its usage, then the key identifiers that chain it to the CA. */
export function deviceCertificateExtensions(
  publicKey: asn1X509.SubjectPublicKeyInfo,
  authorityKeyIdentifier: asn1X509.Extension,
): asn1X509.Extensions {
  return new asn1X509.Extensions([
    ...USAGE_EXTENSIONS,
    subjectKeyIdentifier(publicKey),
    authorityKeyIdentifier,
  ]);
}

/** RFC 5280 section 4.2.1.2, method (1): the SHA-1 of the subjectPublicKey bits. */
function subjectKeyIdentifier(publicKey: asn1X509.SubjectPublicKeyInfo): asn1X509.Extension {
  const keyId = createHash('sha1').update(new Uint8Array(publicKey.subjectPublicKey)).digest();
  return new asn1X509.Extension({
    extnID: asn1X509.id_ce_subjectKeyIdentifier,
    critical: false,
    extnValue: new OctetString(AsnConvert.serialize(new asn1X509.SubjectKeyIdentifier(keyId))),
  });
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
