import { describe, expect, it } from 'vitest';
import { CsrfTokens } from './csrf.js';

describe('CSRF tokens', () => {
  const tokens = new CsrfTokens('k'.repeat(32));
  const nonce = CsrfTokens.newNonce();

  it('accepts the token of the nonce', () => {
    expect(tokens.verify(nonce, tokens.tokenFor(nonce))).toBe(true);
  });

  it.each([
    ['no token', nonce, undefined],
    ['an empty token', nonce, ''],
    ['the token of another nonce', nonce, tokens.tokenFor(CsrfTokens.newNonce())],
    ['no cookie', undefined, tokens.tokenFor(nonce)],
    ['a malformed cookie', 'short', tokens.tokenFor('short')],
    ['a token made with another key', nonce, new CsrfTokens('x'.repeat(32)).tokenFor(nonce)],
    ['an array', nonce, [tokens.tokenFor(nonce)]],
  ])('refuses %s', (_label, cookieNonce, token) => {
    expect(tokens.verify(cookieNonce, token)).toBe(false);
  });
});
