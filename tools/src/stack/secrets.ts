import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Secrets the embedded stack's services share (the service token of cert-service's internal API,
 * the broker's admin token) or keep (hash peppers). Production takes them from its secret store;
 * here they are generated on first start and kept, readable by the owner only, in
 * `<data dir>/secrets.json`, so that hashes stored by one run still verify in the next.
 */
export const STACK_SECRETS = [
  'CERT_SERVICE_INTERNAL_TOKEN',
  'CERT_SERVICE_PEPPER',
  'BROKER_ADMIN_TOKEN',
  'DEVICE_SERVICE_PEPPER',
] as const;

export type StackSecrets = Record<(typeof STACK_SECRETS)[number], string>;

export function loadStackSecrets(dataDir: string): StackSecrets {
  const file = join(dataDir, 'secrets.json');
  const existing: Partial<Record<string, string>> = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>)
    : {};
  let changed = !existsSync(file);
  const secrets = {} as StackSecrets;
  for (const name of STACK_SECRETS) {
    const value = existing[name];
    if (typeof value === 'string' && value.length >= 32) {
      secrets[name] = value;
    } else {
      secrets[name] = randomBytes(32).toString('base64url');
      changed = true;
    }
  }
  if (changed) writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secrets;
}
