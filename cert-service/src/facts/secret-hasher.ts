import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Keyed hashes of machine secrets (MQTT passwords, service secrets, enrolment secrets). These are
 * 128-bit random values, not human passwords, so a slow KDF buys nothing and would make connect
 * storms expensive; an HMAC under a server pepper keeps a stolen table useless without the pepper.
 * Each purpose gets its own label so a hash of one kind never verifies as another.
 */
export type SecretPurpose = 'mqtt-password' | 'service-secret' | 'enrolment-secret';

export class SecretHasher {
  constructor(private readonly pepper: string) {}

  hash(purpose: SecretPurpose, secret: string): Buffer {
    return createHmac('sha256', this.pepper).update(purpose).update('\u0000').update(secret, 'utf8').digest();
  }

  /** Constant-time check; a missing stored hash or a missing secret never matches. */
  matches(
    purpose: SecretPurpose,
    secret: string | null | undefined,
    stored: Buffer | null | undefined,
  ): boolean {
    if (secret === null || secret === undefined || stored === null || stored === undefined) return false;
    const candidate = this.hash(purpose, secret);
    return stored.length === candidate.length && timingSafeEqual(candidate, stored);
  }
}
