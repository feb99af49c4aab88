const SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MAX_LENGTH = 254;

/**
 * The form an address is stored and looked up in: trimmed, Unicode-normalised and lower-cased, so
 * that "Ann@Example.com " and "ann@example.com" are one account. Undefined when it is not an
 * address (RFC 5321 caps the length at 254).
 */
export function normaliseEmail(input: string): string | undefined {
  const email = input.trim().normalize('NFKC').toLowerCase();
  return email.length <= MAX_LENGTH && SHAPE.test(email) ? email : undefined;
}
