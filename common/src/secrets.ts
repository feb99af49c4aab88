import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether an `Authorization: Bearer <token>` header carries the expected service token. Both
 * sides are hashed first, so the comparison takes the same time whatever the presented token's
 * content or length; no token is expected when none is configured.
 */
export function bearerTokenMatches(header: string | undefined, expected: string | undefined): boolean {
  if (expected === undefined) return false;
  const presented = header?.startsWith('Bearer ') ? header.slice(7) : '';
  if (presented === '') return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
