import { describe, expect, it } from 'vitest';
import { lockoutSeconds } from './lockout.js';

const policy = { maxFailures: 5, baseSeconds: 60, maxSeconds: 3600 };

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
