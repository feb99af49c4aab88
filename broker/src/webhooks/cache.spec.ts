import { describe, expect, it } from 'vitest';
import { cacheKey, DecisionCache, maxAgeSeconds, publishCacheKey } from './cache.js';

describe('maxAgeSeconds (VerneMQ parses max-age= anywhere in the value)', () => {
  it.each([
    ['max-age=30', 30],
    ['  max-age=45,sthelse', 45],
    ['private, MAX-AGE=5', 5],
    ['max-age=abc', undefined],
    ['no-cache', undefined],
    [null, undefined],
  ])('%s → %s', (header, expected) => {
    expect(maxAgeSeconds(header)).toBe(expected);
  });
});

describe('cacheKey', () => {
  const publish = {
    username: 'D1',
    mountpoint: '',
    client_id: 'D1',
    qos: 1,
    topic: 'devices/D1/state',
    retain: false,
  };

  it('ignores the payload and the peer port, as VerneMQ does', () => {
    expect(cacheKey('auth_on_publish', { ...publish, payload: 'YQ==' })).toBe(
      cacheKey('auth_on_publish', { ...publish, payload: 'Yg==' }),
    );
    expect(cacheKey('auth_on_register', { client_id: 'x', peer_port: 1 })).toBe(
      cacheKey('auth_on_register', { client_id: 'x', peer_port: 2 }),
    );
  });

  it.each([
    ['topic', 'devices/D1/events'],
    ['qos', 0],
    ['username', 'D2'],
    ['client_id', 'D2'],
    ['retain', true],
  ])('changes with the %s', (field, value) => {
    expect(cacheKey('auth_on_publish', { ...publish, [field]: value })).not.toBe(
      cacheKey('auth_on_publish', publish),
    );
  });

  it.each([
    ['a device', publish],
    ['a user without a username', { ...publish, username: null, qos: 0, retain: true }],
    ['quotes, backslashes and non-ASCII', { ...publish, client_id: 'a"b\\c', topic: 'x/"]/é/\u2028' }],
  ])('is the same for a publish built without its payload: %s', (_case, request) => {
    expect(publishCacheKey(request as Parameters<typeof publishCacheKey>[0])).toBe(
      cacheKey('auth_on_publish', { ...request, payload: 'YQ==' }),
    );
  });

  it('differs between hooks', () => {
    expect(cacheKey('auth_on_publish', publish)).not.toBe(cacheKey('auth_on_subscribe', publish));
  });
});

describe('DecisionCache', () => {
  const alice = { username: 'alice', clientId: 'alice-phone' };
  const bob = { username: 'bob', clientId: 'bob-phone' };

  it('answers until the entry expires', () => {
    let now = 0;
    const cache = new DecisionCache(
      10,
      () => now,
      () => 0,
    );
    cache.set('k', { result: 'ok' }, 30, alice);
    now = 29_999;
    expect(cache.get('k')).toEqual({ result: 'ok' });
    now = 30_000;
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it.each([
    [0, 30_000],
    [0.5, 27_000],
    [0.999_999, 24_001],
  ])('spreads expiry over the last fifth of max-age, never past it (random %s)', (random, expiry) => {
    let now = 0;
    const cache = new DecisionCache(
      10,
      () => now,
      () => random,
    );
    cache.set('k', { result: 'ok' }, 30, alice);
    now = expiry - 1;
    expect(cache.get('k')).toEqual({ result: 'ok' });
    now = expiry;
    expect(cache.get('k')).toBeUndefined();
  });

  it('keeps no answer asked for before a clear', () => {
    const cache = new DecisionCache(10);
    const askedAt = cache.generation;
    cache.clear({ usernames: ['bob'], clientIds: [] });
    cache.set('k', { result: 'ok' }, 30, alice, askedAt);
    expect(cache.get('k')).toBeUndefined();
    cache.set('k', { result: 'ok' }, 30, alice, cache.generation);
    expect(cache.get('k')).toEqual({ result: 'ok' });
  });

  it('stores nothing for max-age 0', () => {
    const cache = new DecisionCache(10);
    cache.set('k', { result: 'ok' }, 0, alice);
    expect(cache.size).toBe(0);
  });

  it('drops the oldest entry when full', () => {
    const cache = new DecisionCache(2);
    cache.set('a', 1, 60, alice);
    cache.set('b', 2, 60, alice);
    cache.set('c', 3, 60, alice);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([undefined, 2, 3]);
  });

  it('clears by user, by client, or entirely', () => {
    const cache = new DecisionCache(10);
    cache.set('a', 1, 60, alice);
    cache.set('b', 2, 60, bob);
    expect(cache.clear({ usernames: ['alice'], clientIds: [] })).toBe(1);
    expect(cache.get('b')).toBe(2);
    expect(cache.clear({ usernames: [], clientIds: ['bob-phone'] })).toBe(1);
    cache.set('c', 3, 60, alice);
    expect(cache.clear({ usernames: [], clientIds: [] })).toBe(1);
    expect(cache.size).toBe(0);
  });
});
