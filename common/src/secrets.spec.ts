import { describe, expect, it } from 'vitest';
import { bearerTokenMatches } from './secrets.js';

const token = 'service-token-0123456789abcdef0123456789';

describe('bearerTokenMatches', () => {
  it.each([
    ['the token', `Bearer ${token}`, token, true],
    ['another token', 'Bearer service-token-0123456789abcdef0123456780', token, false],
    ['a prefix of the token', `Bearer ${token.slice(0, 10)}`, token, false],
    ['no header', undefined, token, false],
    ['an empty bearer', 'Bearer ', token, false],
    ['another scheme', `Basic ${token}`, token, false],
    ['anything when no token is configured', `Bearer ${token}`, undefined, false],
  ])('refuses or accepts %s', (_what, header, expected, result) => {
    expect(bearerTokenMatches(header, expected)).toBe(result);
  });
});
