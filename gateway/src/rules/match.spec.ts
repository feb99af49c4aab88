import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PipelineError } from '../pipeline/types.js';
import { cleanPath, findRule } from './match.js';
import { matchableRule as rule } from '../../test/support.js';

const rules = [
  rule('list', 'https://api.test/devices', ['GET']),
  rule('read', 'https://api.test/devices/<[^/]+>', ['GET']),
  rule('rename', 'https://api.test/devices/<[^/]+>', ['PATCH']),
  rule('events', 'https://api.test/devices/<[^/]+>/events', ['GET']),
  rule('overlap-a', 'https://api.test/overlap/<.*>', ['GET']),
  rule('overlap-b', 'https://api.test/overlap/<[a-z]+>', ['GET', 'POST']),
];

function outcome(method: string, url: string): string | number {
  try {
    return findRule(rules, method, url).rule.rule.id;
  } catch (err) {
    if (err instanceof PipelineError) return err.status;
    throw err;
  }
}

describe('rule matching', () => {
  it.each([
    ['GET', 'https://api.test/devices', 'list'],
    ['GET', 'https://api.test/devices/d1', 'read'],
    ['get', 'https://api.test/devices/d1', 'read'],
    ['PATCH', 'https://api.test/devices/d1', 'rename'],
    ['GET', 'https://api.test/devices/d1/events', 'events'],
    ['DELETE', 'https://api.test/devices/d1', 404],
    ['GET', 'https://api.test/devices/d1/events/x', 404],
    ['GET', 'https://other.test/devices', 404],
    ['GET', 'https://api.test/overlap/abc', 500],
    ['GET', 'https://api.test/overlap/ABC', 'overlap-a'],
    ['POST', 'https://api.test/overlap/abc', 'overlap-b'],
  ])('%s %s → %s', (method, url, expected) => {
    expect(outcome(method, url)).toBe(expected);
  });

  it('answers 500 when the three rules of Oathkeeper test stub all match', () => {
    const stub = JSON.parse(
      readFileSync(new URL('../../test/fixtures/oathkeeper-test-stub.rules.json', import.meta.url), 'utf8'),
    ) as { id: string; match: { url: string; methods: string[] } }[];
    const compiled = stub.map((r) => rule(r.id, r.match.url, r.match.methods));
    expect(() => findRule(compiled, 'GET', 'myproxy.com/api')).toThrow(
      expect.objectContaining({ status: 500, message: 'Expected exactly one rule but found multiple rules' }),
    );
    expect(() => findRule(compiled, 'PUT', 'myproxy.com/api')).toThrow(
      expect.objectContaining({ status: 404, message: 'Requested url does not match any rules' }),
    );
  });

  it.each([
    ['/', '/'],
    ['', '/'],
    ['/devices/', '/devices'],
    ['//devices//d1', '/devices/d1'],
    ['/me/../admin/devices', '/admin/devices'],
    ['/../../etc', '/etc'],
    ['/a/./b', '/a/b'],
  ])('cleans %s to %s as Go path.Clean does', (path, cleaned) => {
    expect(cleanPath(path)).toBe(cleaned);
  });
});
