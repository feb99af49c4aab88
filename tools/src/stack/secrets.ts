import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { docOf, type ConfigShape } from '@spincycle/common';

/**
 * Secrets of the embedded stack: those services share (the service token of cert-service's
 * internal API, the broker's admin token) and those each service requires for itself (hash
 * peppers, encryption keys). Production takes them from its secret store; here each is generated
 * the first time it is needed and kept, readable by the owner only, in `<data dir>/secrets.json`,
 * so that whatever one run stored under them still verifies in the next.
 */
export class StackSecrets {
  private readonly values: Record<string, string>;
  private changed = false;

  constructor(private readonly file: string) {
    this.values = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
  }

  static open(dataDir: string): StackSecrets {
    return new StackSecrets(join(dataDir, 'secrets.json'));
  }

  /** A secret by name, made on first use: 32 random bytes, base64url. */
  get(name: string): string {
    let value = this.values[name];
    if (typeof value !== 'string' || value.length < 32) {
      value = randomBytes(32).toString('base64url');
      this.values[name] = value;
      this.changed = true;
    }
    return value;
  }

  /** Every secret the service's configuration requires and `given` does not already set. */
  requiredBy(
    service: string,
    shape: ConfigShape | undefined,
    given: Record<string, string>,
  ): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [variable, schema] of Object.entries(shape ?? {})) {
      const required = docOf(schema)?.secret === true && !schema.safeParse(undefined).success;
      if (required && given[variable] === undefined) out[variable] = this.get(`${service}:${variable}`);
    }
    return out;
  }

  save(): void {
    if (this.changed || !existsSync(this.file)) {
      writeFileSync(this.file, `${JSON.stringify(this.values, null, 2)}\n`, { mode: 0o600 });
      this.changed = false;
    }
    chmodSync(this.file, 0o600);
  }
}
