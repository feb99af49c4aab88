import { describe, expect, it } from 'vitest';
import { lockoutSeconds, retryAfterSeconds } from './lockout.js';

const policy = { attemptsBeforeLockout: 5, baseSeconds: 60, maxSeconds: 3600 };

describe('lockoutSeconds', () => {
  it.each([
    [0, 0],
    [1, 0],
    [4, 0],
    [5, 60],
    [6, 120],
    [7, 240],
    [10, 1920],
    [11, 3600],
    [1000, 3600],
  ])('after %i failures locks for %i s', (failures, seconds) => {
    expect(lockoutSeconds(failures, policy)).toBe(seconds);
  });
});

describe('retryAfterSeconds', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  it('rounds up to whole seconds and never answers zero while locked', () => {
    expect(retryAfterSeconds(new Date(now.getTime() + 1500), now)).toBe(2);
    expect(retryAfterSeconds(new Date(now.getTime() + 1), now)).toBe(1);
    expect(retryAfterSeconds(now, now)).toBe(1);
  });
});
