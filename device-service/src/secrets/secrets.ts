import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * Keyed hashes of the secrets device-service hands out (claim codes, provisioning tokens). They are
 * random values, not human passwords, so a slow KDF buys nothing; an HMAC under a server pepper
 * keeps a stolen table useless without the pepper. Each purpose is its own label so a hash of one
 * kind never verifies as another.
 */
export type SecretPurpose = 'claim-code' | 'internal-token' | 'provisioning-token';

export class SecretHasher {
  constructor(private readonly pepper: string) {}

  hash(purpose: SecretPurpose, secret: string): Buffer {
    return createHmac('sha256', this.pepper).update(purpose).update('\u0000').update(secret, 'utf8').digest();
  }

  /** Constant-time check; a missing stored hash never matches. */
  matches(purpose: SecretPurpose, secret: string, stored: Buffer | null): boolean {
    if (stored === null) return false;
    const candidate = this.hash(purpose, secret);
    return stored.length === candidate.length && timingSafeEqual(candidate, stored);
  }
}

// Crockford's base32 without I, L, O, U: nothing on a printed label can be misread as another.
const CLAIM_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CLAIM_GROUPS = 4;
const CLAIM_GROUP_LENGTH = 5;

/** A claim code for a machine's label: 20 symbols of base32 (100 bits), in groups of five. */
export function newClaimCode(): string {
  const groups: string[] = [];
  for (let g = 0; g < CLAIM_GROUPS; g += 1) {
    let group = '';
    for (let i = 0; i < CLAIM_GROUP_LENGTH; i += 1) group += CLAIM_ALPHABET[randomInt(CLAIM_ALPHABET.length)];
    groups.push(group);
  }
  return groups.join('-');
}

/** How a typed or scanned claim code is compared: case, spaces and dashes do not matter. */
export function normalizeClaimCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '');
}

/** A 128-bit random secret for a machine (MQTT password, enrolment secret, provisioning token). */
export function newMachineSecret(): string {
  return randomBytes(16).toString('base64url');
}
