import { describe, expect, it } from 'vitest';
import { TokenCache } from './token-cache.js';

describe('TokenCache', () => {
  it('keeps an entry until its expiry and forgets it then', () => {
    let now = 1_000;
    const cache = new TokenCache<string>(10, () => now);
    cache.set('k', 'v', 2_000);
    expect(cache.get('k')).toBe('v');
    now = 1_999;
    expect(cache.get('k')).toBe('v');
    now = 2_000;
    expect(cache.get('k')).toBeUndefined();
  });

  it('does not store what has already expired', () => {
    const cache = new TokenCache<string>(10, () => 5_000);
    cache.set('k', 'v', 5_000);
    expect(cache.size).toBe(0);
  });

  it('evicts the oldest entry when full', () => {
    const cache = new TokenCache<string>(2, () => 0);
    cache.set('a', '1', 10);
    cache.set('b', '2', 10);
    cache.set('c', '3', 10);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([undefined, '2', '3']);
  });

  it('keys by digest, never by the token itself', () => {
    const key = TokenCache.key('https://hydra/introspect', '', 'secret-token');
    expect(key).not.toContain('secret-token');
    expect(key).toBe(TokenCache.key('https://hydra/introspect', '', 'secret-token'));
    expect(key).not.toBe(TokenCache.key('https://hydra/introspect', 'scope', 'secret-token'));
  });
});
