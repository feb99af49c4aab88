import { describe, expect, it } from 'vitest';
import { missingScopes, type ScopeStrategy } from './scope.js';

describe('scope strategies', () => {
  it.each<[ScopeStrategy, string[], string, boolean]>([
    ['exact', ['device.read'], 'device.read', true],
    ['exact', ['device'], 'device.read', false],
    ['exact', ['device.read'], 'device', false],
    ['exact', [], 'device.read', false],
    ['hierarchic', ['device'], 'device.read', true],
    ['hierarchic', ['device'], 'device.read.own', true],
    ['hierarchic', ['device.read'], 'device', false],
    ['hierarchic', ['device'], 'devices.read', false],
    ['hierarchic', ['device.read'], 'device.read', true],
    ['wildcard', ['device.*'], 'device.read', true],
    ['wildcard', ['device.*'], 'device', false],
    ['wildcard', ['*.read'], 'events.read', true],
    ['wildcard', ['*.read'], 'events.write', false],
    ['wildcard', ['device.read'], 'device.read', true],
    ['wildcard', ['device'], 'device.read', true],
    ['wildcard', ['device.read.own'], 'device.read', false],
  ])('%s: granted %j, required %s → %s', (strategy, granted, required, allowed) => {
    expect(missingScopes(strategy, granted, [required])).toEqual(allowed ? [] : [required]);
  });

  it('lists every required scope the token lacks', () => {
    expect(missingScopes('exact', ['a'], ['a', 'b', 'c'])).toEqual(['b', 'c']);
  });
});
