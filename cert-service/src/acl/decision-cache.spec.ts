import { describe, expect, it } from 'vitest';
import { cacheTags, DecisionCache } from './decision-cache.js';

const yes = { allow: true, reason: 'owner' };
const key = DecisionCache.key('A', 'D1', 'publish:commands');
const tags = [cacheTags.identity('A'), cacheTags.device('D1')];

describe('DecisionCache', () => {
  it('returns a stored decision until its time-to-live runs out', () => {
    const cache = new DecisionCache(1000, 10);
    cache.set(key, tags, yes, { now: 0, generation: cache.currentGeneration() });
    expect(cache.get(key, 999)).toEqual(yes);
    expect(cache.get(key, 1000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never keeps a decision past the expiry of the grant it rests on', () => {
    const cache = new DecisionCache(60_000, 10);
    cache.set(key, tags, yes, { now: 0, notAfter: 50, generation: cache.currentGeneration() });
    expect(cache.get(key, 49)).toEqual(yes);
    expect(cache.get(key, 50)).toBeUndefined();
  });

  it('drops every decision resting on a changed device, and only those', () => {
    const cache = new DecisionCache(60_000, 10);
    const other = DecisionCache.key('B', 'D2', 'subscribe:state');
    cache.set(key, tags, yes, { now: 0, generation: cache.currentGeneration() });
    cache.set(other, [cacheTags.identity('B'), cacheTags.device('D2')], yes, {
      now: 0,
      generation: cache.currentGeneration(),
    });
    expect(cache.invalidate([cacheTags.device('D1')])).toBe(1);
    expect(cache.get(key, 1)).toBeUndefined();
    expect(cache.get(other, 1)).toEqual(yes);
    expect(cache.countTagged(cacheTags.device('D1'))).toBe(0);
    expect(cache.countTagged(cacheTags.identity('A'))).toBe(0);
  });

  it('does not store a decision computed from facts read before an invalidation', () => {
    const cache = new DecisionCache(60_000, 10);
    const generation = cache.currentGeneration();
    cache.invalidate([cacheTags.device('D1')]);
    cache.set(key, tags, yes, { now: 0, generation });
    expect(cache.get(key, 1)).toBeUndefined();
  });

  it('evicts the oldest decision when full', () => {
    const cache = new DecisionCache(60_000, 2);
    for (const device of ['D1', 'D2', 'D3']) {
      cache.set(DecisionCache.key('A', device, 'x'), [cacheTags.device(device)], yes, {
        now: 0,
        generation: cache.currentGeneration(),
      });
    }
    expect(cache.size).toBe(2);
    expect(cache.get(DecisionCache.key('A', 'D1', 'x'), 1)).toBeUndefined();
    expect(cache.countTagged(cacheTags.device('D1'))).toBe(0);
    expect(cache.get(DecisionCache.key('A', 'D3', 'x'), 1)).toEqual(yes);
  });
});
