import { readFile } from 'node:fs/promises';
import type { TlsOptions } from 'node:tls';
import { SECURE_TLS_OPTIONS } from '@spincycle/common';

/** The public listener's TLS: the project-wide protocol and cipher policy, with its certificate. */
export async function edgeTlsOptions(certFile: string, keyFile: string): Promise<TlsOptions> {
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  return { ...SECURE_TLS_OPTIONS, maxVersion: 'TLSv1.3', cert, key };
}
