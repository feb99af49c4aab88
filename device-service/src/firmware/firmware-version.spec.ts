import { describe, expect, it } from 'vitest';
import { compareVersions, isUpgrade, parseVersion } from './firmware-version.js';
import { parseByteRange } from './byte-range.js';

describe('firmware versions', () => {
  it.each([
    ['1.2.3', { major: 1, minor: 2, patch: 3 }],
    ['0.0.0', { major: 0, minor: 0, patch: 0 }],
    ['10.20.30', { major: 10, minor: 20, patch: 30 }],
  ])('reads %s', (text, version) => {
    expect(parseVersion(text)).toEqual(version);
  });

  it.each(['1.2', '1.2.3.4', '01.2.3', '1.2.3-beta', 'v1.2.3', '', '1..3', '1234567890.0.0'])(
    'refuses %j',
    (text) => {
      expect(parseVersion(text)).toBeNull();
    },
  );

  it.each([
    ['1.10.0', '1.9.9', 1],
    ['2.0.0', '1.99.99', 1],
    ['1.2.3', '1.2.3', 0],
    ['1.2.3', '1.2.4', -1],
  ])('orders %s against %s numerically', (a, b, sign) => {
    expect(Math.sign(compareVersions(parseVersion(a)!, parseVersion(b)!))).toBe(sign);
  });

  it.each([
    [null, '1.0.0', true],
    ['1.0.0', '1.0.1', true],
    ['1.0.1', '1.0.1', false],
    ['2.0.0', '1.9.0', false],
    ['garbled', '0.0.1', true],
  ])('a device on %s may be given %s: %s', (current, offered, allowed) => {
    expect(isUpgrade(current, parseVersion(offered)!)).toBe(allowed);
  });
});

describe('byte ranges', () => {
  it.each([
    ['bytes=0-99', 1000, { start: 0, end: 99 }],
    ['bytes=900-', 1000, { start: 900, end: 999 }],
    ['bytes=-100', 1000, { start: 900, end: 999 }],
    ['bytes=-5000', 1000, { start: 0, end: 999 }],
    ['bytes=990-2000', 1000, { start: 990, end: 999 }],
    ['bytes=1000-', 1000, 'unsatisfiable'],
    ['bytes=-0', 1000, 'unsatisfiable'],
    ['bytes=5-3', 1000, null],
    ['bytes=0-1,5-6', 1000, null],
    ['items=0-1', 1000, null],
    [undefined, 1000, null],
  ])('%s of %d bytes is %j', (header, size, expected) => {
    expect(parseByteRange(header, size)).toEqual(expected);
  });
});
