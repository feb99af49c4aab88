import { DEFAULT_GRANT_HOURS, MAX_GRANT_DAYS } from './grants.dto.js';

const HOUR_MS = 3_600_000;

/** When a grant asked for at `now` ends, or why it cannot: in the future, at most 30 days ahead. */
export function grantExpiry(
  requested: Date | undefined,
  now: Date,
): { expiresAt: Date } | { problem: string } {
  if (requested === undefined) return { expiresAt: new Date(now.getTime() + DEFAULT_GRANT_HOURS * HOUR_MS) };
  if (requested.getTime() <= now.getTime()) return { problem: 'expiresAt: must be in the future' };
  if (requested.getTime() > now.getTime() + MAX_GRANT_DAYS * 24 * HOUR_MS) {
    return { problem: `expiresAt: must be at most ${MAX_GRANT_DAYS} days ahead` };
  }
  return { expiresAt: requested };
}
