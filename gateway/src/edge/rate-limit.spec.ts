import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.js';

describe('RateLimiter', () => {
  it('allows a burst, then refuses until tokens refill at the per-minute rate', () => {
    let now = 0;
    const limiter = new RateLimiter(60, 3, () => now);
    expect([1, 2, 3].map(() => limiter.take('10.0.0.1').allowed)).toEqual([true, true, true]);
    expect(limiter.take('10.0.0.1')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    now = 1_000;
    expect(limiter.take('10.0.0.1').allowed).toBe(true);
    expect(limiter.take('10.0.0.1').allowed).toBe(false);
  });

  it('keeps one bucket per client', () => {
    const limiter = new RateLimiter(60, 1, () => 0);
    expect(limiter.take('10.0.0.1').allowed).toBe(true);
    expect(limiter.take('10.0.0.1').allowed).toBe(false);
    expect(limiter.take('10.0.0.2').allowed).toBe(true);
  });

  it('forgets refilled buckets on sweep', () => {
    let now = 0;
    const limiter = new RateLimiter(60, 2, () => now);
    limiter.take('a');
    limiter.take('b');
    limiter.take('b');
    now = 1_000;
    limiter.sweep();
    expect(limiter.size).toBe(1);
    now = 2_000;
    limiter.sweep();
    expect(limiter.size).toBe(0);
  });
});
