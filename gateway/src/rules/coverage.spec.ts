import { describe, expect, it } from 'vitest';
import { ruleCoverage, samplePath } from './coverage.js';
import { matchableRule as rule } from '../../test/support.js';

const rules = [
  rule('devices', 'https://api.spincycle.test/devices/<[^/]+>', ['GET']),
  rule('events-a', 'https://api.spincycle.test/devices/<[^/]+>/events', ['GET']),
  rule('events-b', 'https://api.spincycle.test/devices/<.+>/events', ['GET']),
  rule('health', 'https://api.spincycle.test/health', ['GET']),
];

describe('rule coverage of service routes', () => {
  it('substitutes parameters and wildcards with sample values', () => {
    expect(samplePath('/devices/:id/grants/:grantId')).toMatch(
      /^\/devices\/[0-9a-f-]{36}\/grants\/[0-9a-f-]{36}$/,
    );
    expect(samplePath('/files/*')).toBe('/files/a/b');
  });

  it('reports unmatched, ambiguous and exposed-internal routes, and skips implicit HEAD routes', () => {
    const report = ruleCoverage(
      rules,
      [
        { method: 'GET', path: '/devices/:id' },
        { method: 'HEAD', path: '/devices/:id' },
        { method: 'PATCH', path: '/devices/:id' },
        { method: 'GET', path: '/devices/:id/events' },
        { method: 'GET', path: '/health' },
        { method: 'GET', path: '/metrics' },
        { method: 'POST', path: '/internal/v1/things' },
      ],
      [
        { method: '*', path: '/health', reason: 'probe' },
        { method: 'GET', path: '/metrics', reason: 'scrape' },
        { method: '*', path: '/internal/**', reason: 'service-to-service' },
      ],
    );
    expect(report).toEqual({
      unmatched: [{ method: 'PATCH', path: '/devices/:id' }],
      ambiguous: [{ route: { method: 'GET', path: '/devices/:id/events' }, rules: ['events-a', 'events-b'] }],
      exposed: [{ route: { method: 'GET', path: '/health' }, rules: ['health'] }],
    });
  });
});
