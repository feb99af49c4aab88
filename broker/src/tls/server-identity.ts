import { webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
// @peculiar/x509 needs the Reflect metadata API loaded before it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { Logger } from '@spincycle/common';

export interface ServerIdentity {
  cert: string;
  key: string;
  /** Whether it was generated here for development rather than provided by the operator. */
  generated: boolean;
}

const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/**
 * The broker's server certificate: the operator's files in production; for the embedded stack a
 * self-signed ECDSA P-256 certificate for localhost made on first start and kept under DATA_DIR
 * (clients must be told to trust it; its path is logged).
 */
export async function loadServerIdentity(options: {
  certFile: string | undefined;
  keyFile: string | undefined;
  dataDir: string;
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
  const dir = join(options.dataDir, 'broker', 'tls');
  const certPath = join(dir, 'server.crt');
  const keyPath = join(dir, 'server.key');
  try {
    return { cert: await readFile(certPath, 'utf8'), key: await readFile(keyPath, 'utf8'), generated: true };
  } catch {
    // First start: make one.
  }
  const identity = await selfSigned(['localhost'], ['127.0.0.1', '::1']);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(keyPath, identity.key, { mode: 0o600 });
  await writeFile(certPath, identity.cert);
  options.logger.warn({ cert: certPath }, 'generated a self-signed development server certificate');
  return { ...identity, generated: true };
}

export async function selfSigned(dnsNames: string[], ips: string[]): Promise<{ cert: string; key: string }> {
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
    name: 'CN=spincycle-broker',
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
