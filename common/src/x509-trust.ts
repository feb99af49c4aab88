import { webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
// @peculiar/x509 needs the Reflect metadata API loaded before it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { Logger } from './logger.js';

/**
 * What every listener that devices reach over mutual TLS needs (the broker's MQTT listener,
 * device-service's firmware downloads): a server certificate, and the device CA and CRL that
 * client certificates are verified against, as cert-service publishes them.
 */

export interface ServerIdentity {
  cert: string;
  key: string;
  /** Whether it was generated here for development rather than provided by the operator. */
  generated: boolean;
}

const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/**
 * The operator's certificate and key files in production; for the embedded stack a self-signed
 * ECDSA P-256 certificate for localhost made on first start and kept in `dir` (clients must be
 * told to trust it; its path is logged).
 */
export async function loadServerIdentity(options: {
  certFile: string | undefined;
  keyFile: string | undefined;
  /** Where the generated development certificate is kept. */
  dir: string;
  commonName: string;
  logger: Logger;
}): Promise<ServerIdentity> {
  if (options.certFile || options.keyFile) {
    if (!options.certFile || !options.keyFile)
      throw new Error('TLS_CERT_FILE and TLS_KEY_FILE must be set together');
    return {
      cert: await readFile(options.certFile, 'utf8'),
      key: await readFile(options.keyFile, 'utf8'),
      generated: false,
    };
  }
  const certPath = join(options.dir, 'server.crt');
  const keyPath = join(options.dir, 'server.key');
  try {
    return { cert: await readFile(certPath, 'utf8'), key: await readFile(keyPath, 'utf8'), generated: true };
  } catch {
    // First start: make one.
  }
  const identity = await selfSigned(['localhost'], ['127.0.0.1', '::1'], options.commonName);
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  await writeFile(keyPath, identity.key, { mode: 0o600 });
  await writeFile(certPath, identity.cert);
  options.logger.warn({ cert: certPath }, 'generated a self-signed development server certificate');
  return { ...identity, generated: true };
}

export async function selfSigned(
  dnsNames: string[],
  ips: string[],
  commonName = 'spincycle-broker',
): Promise<{ cert: string; key: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const keys = (await webcrypto.subtle.generateKey(ECDSA, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 365 * 24 * 3600 * 1000),
    keys,
    signingAlgorithm: ECDSA,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: certificate.toString('pem'), key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

/** The device CA chain and CRL that client certificates are verified against. */
export interface DeviceTrust {
  ca: string;
  crl: string;
  /** Revoked serial numbers, lower-case hex without leading zeros, to drop live sessions. */
  revoked: Set<string>;
}

export function normaliseSerial(serial: string): string {
  return serial.toLowerCase().replace(/^0+(?=.)/, '');
}

async function fetchText(url: string, what: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${what} from ${url}: HTTP ${res.status}`);
  }
  return res.text();
}

export async function loadDeviceTrust(caUrl: string, crlUrl: string): Promise<DeviceTrust> {
  const [ca, crl] = await Promise.all([fetchText(caUrl, 'device CA'), fetchText(crlUrl, 'device CRL')]);
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`device CA from ${caUrl} is not PEM`);
  const parsed = new x509.X509Crl(crl);
  return {
    ca,
    // OpenSSL reads only the `X509 CRL` PEM label; re-encoding accepts any label the issuer used.
    crl: x509.PemConverter.encode(parsed.rawData, 'X509 CRL'),
    revoked: new Set(parsed.entries.map((e) => normaliseSerial(e.serialNumber))),
  };
}

/**
 * Reads the trust material until it arrives: at start cert-service may still be coming up, and
 * without a CA a device listener must not open (it could verify nothing).
 */
export async function waitForDeviceTrust(
  caUrl: string,
  crlUrl: string,
  logger: Logger,
  deadlineMs: number,
): Promise<DeviceTrust> {
  const deadline = Date.now() + deadlineMs;
  let delay = 200;
  for (;;) {
    try {
      return await loadDeviceTrust(caUrl, crlUrl);
    } catch (err) {
      if (Date.now() + delay > deadline) throw err;
      logger.info({ reason: (err as Error).message }, 'device CA not available yet; retrying');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }
}
