import { describe, expect, it } from 'vitest';
import { SecretHasher } from '../secrets/secrets.js';
import { presentedToken, provisioningStatus, tokenAccepted, withoutTokens } from './first-connect-token.js';
import type { ProvisioningSession } from './provisioning-sessions.repository.js';

const hasher = new SecretHasher('pepper-for-unit-tests-0123456789abcdef');
const ISSUED = new Date('2026-04-01T10:00:00Z');
const EXPIRES = new Date('2026-04-01T10:15:00Z');
const TOKEN = 'Zm9yLXRoZS13YXNoZXI';

const session = (change: Partial<ProvisioningSession> = {}): ProvisioningSession => ({
  tokenHash: hasher.hash('provisioning-token', TOKEN),
  issuedAt: ISSUED,
  expiresAt: EXPIRES,
  connectedAt: null,
  ...change,
});
const before = new Date(EXPIRES.getTime() - 1);

describe('tokenAccepted', () => {
  it('accepts the token of a waiting session before it expires', () => {
    expect(tokenAccepted(hasher, session(), TOKEN, before)).toBe(true);
  });

  it.each([
    ['a wrong token', session(), 'not-the-token', before],
    ['the token with a different case', session(), TOKEN.toLowerCase(), before],
    ['no token', session(), null, before],
    ['no session', undefined, TOKEN, before],
    ['at the instant it expires', session(), TOKEN, EXPIRES],
    ['after it expired', session(), TOKEN, new Date(EXPIRES.getTime() + 1)],
    ['a token already spent', session({ connectedAt: ISSUED }), TOKEN, before],
    [
      'a claim code hash of the same value',
      session({ tokenHash: hasher.hash('claim-code', TOKEN) }),
      TOKEN,
      before,
    ],
  ])('refuses %s', (_what, s, token, at) => {
    expect(tokenAccepted(hasher, s, token, at)).toBe(false);
  });
});

describe('presentedToken', () => {
  it.each([
    [{ token: TOKEN }, TOKEN],
    [{ token: TOKEN, ssid: 'ignored' }, TOKEN],
    [{}, null],
    [{ token: 42 }, null],
    [{ token: '' }, null],
    [{ token: 'x'.repeat(257) }, null],
  ])('reads %j as %s', (data, expected) => {
    expect(presentedToken(data)).toBe(expected);
  });
});

describe('provisioningStatus', () => {
  it.each([
    ['none', null, ISSUED, { status: 'none', expiresAt: null, connectedAt: null }],
    ['pending', session(), before, { status: 'pending', expiresAt: EXPIRES, connectedAt: null }],
    ['expired', session(), EXPIRES, { status: 'expired', expiresAt: EXPIRES, connectedAt: null }],
    [
      'connected, even after the expiry',
      session({ connectedAt: before }),
      new Date(EXPIRES.getTime() + 3_600_000),
      { status: 'connected', expiresAt: EXPIRES, connectedAt: before },
    ],
  ])('%s', (_what, s, now, expected) => {
    expect(provisioningStatus(s, now)).toEqual(expected);
  });
});

describe('withoutTokens', () => {
  it.each([
    [
      'a malformed provisioning event',
      `{"id":"p-1","type":"device.provisioned","data":{"token":"${TOKEN}"},"extra":1}`,
      '{"id":"p-1","type":"device.provisioned","data":{"token":"[redacted]"},"extra":1}',
    ],
    ['spaces and escapes', `{"token" : "a\\"b${TOKEN}"}`, '{"token" : "[redacted]"}'],
    [
      'a truncated payload',
      `{"type":"device.provisioned","data":{"token":"${TOKEN}`,
      '{"type":"device.provisioned","data":{"token":"[redacted]',
    ],
  ])('hides the token of %s', (_what, payload, kept) => {
    const out = withoutTokens(Buffer.from(payload)).toString();
    expect(out).toBe(kept);
    expect(out).not.toContain(TOKEN);
  });

  it('keeps a payload without a token byte for byte', () => {
    const payload = Buffer.from([0xff, 0xfe, 0x7b]);
    expect(withoutTokens(payload)).toBe(payload);
  });
});
