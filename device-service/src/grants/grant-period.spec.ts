import { describe, expect, it } from 'vitest';
import { grantExpiry } from './grant-period.js';

const now = new Date('2026-03-01T10:00:00Z');
const at = (ms: number) => new Date(now.getTime() + ms);
const DAY = 86_400_000;

describe('grantExpiry', () => {
  it.each([
    ['absent: 24 hours', undefined, { expiresAt: at(DAY) }],
    ['in an hour', at(3_600_000), { expiresAt: at(3_600_000) }],
    ['exactly 30 days ahead', at(30 * DAY), { expiresAt: at(30 * DAY) }],
    [
      '30 days and a second ahead',
      at(30 * DAY + 1000),
      { problem: 'expiresAt: must be at most 30 days ahead' },
    ],
    ['now', now, { problem: 'expiresAt: must be in the future' }],
    ['in the past', at(-1), { problem: 'expiresAt: must be in the future' }],
  ])('%s', (_label, requested, expected) => {
    expect(grantExpiry(requested, now)).toEqual(expected);
  });
});
