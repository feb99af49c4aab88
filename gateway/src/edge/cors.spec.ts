import { describe, expect, it } from 'vitest';
import { corsDecision, parseAllowedOrigins } from './cors.js';

const policy = parseAllowedOrigins('https://app.example.com, http://localhost:8081');

describe('CORS', () => {
  it('adds nothing for an origin that is not listed', () => {
    expect(corsDecision(policy, 'GET', { origin: 'https://evil.example.com' })).toEqual({ kind: 'none' });
    expect(
      corsDecision(parseAllowedOrigins(undefined), 'GET', { origin: 'https://app.example.com' }),
    ).toEqual({
      kind: 'none',
    });
  });

  it('answers a preflight of a listed origin', () => {
    const decision = corsDecision(policy, 'OPTIONS', {
      origin: 'https://app.example.com',
      'access-control-request-method': 'PATCH',
    });
    expect(decision.kind).toBe('preflight');
    expect(decision.kind !== 'none' && decision.headers['access-control-allow-origin']).toBe(
      'https://app.example.com',
    );
  });

  it('marks actual requests of a listed origin', () => {
    const decision = corsDecision(policy, 'GET', { origin: 'http://localhost:8081' });
    expect(decision).toMatchObject({ kind: 'actual', headers: { vary: 'Origin' } });
  });

  it.each(['https://app.example.com/', 'app.example.com', 'https://app.example.com/path'])(
    'refuses the origin %s in the allow-list',
    (origin) => {
      expect(() => parseAllowedOrigins(origin)).toThrow();
    },
  );
});
