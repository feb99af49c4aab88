import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  SignJWT,
  UnsecuredJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createIdentityVerifier, IdentityError, type IdentityVerifier } from './identity.js';

const ISSUER = 'http://gateway.test/';
let gatewayKey: CryptoKey;
let strangerKey: CryptoKey;
let verifier: IdentityVerifier;

beforeAll(async () => {
  const gateway = await generateKeyPair('ES256');
  gatewayKey = gateway.privateKey;
  strangerKey = (await generateKeyPair('ES256')).privateKey;
  const jwk: JWK = { ...(await exportJWK(gateway.publicKey)), kid: 'k1', alg: 'ES256' };
  verifier = createIdentityVerifier({
    jwksUrl: 'http://unused/',
    issuer: ISSUER,
    audience: 'device-service',
    keys: createLocalJWKSet({ keys: [jwk] }),
  });
});

const now = () => Math.floor(Date.now() / 1000);

function token(overrides: { key?: CryptoKey; iss?: string; aud?: string; exp?: number; sub?: string } = {}) {
  return new SignJWT({ scope: 'device.read', roles: ['technician'] })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(overrides.iss ?? ISSUER)
    .setAudience(overrides.aud ?? 'device-service')
    .setSubject(overrides.sub ?? 'user-1')
    .setIssuedAt()
    .setExpirationTime(overrides.exp ?? now() + 60)
    .sign(overrides.key ?? gatewayKey);
}

describe('gateway identity verifier', () => {
  it('accepts the gateway id_token and reads subject, scopes and roles', async () => {
    expect(await verifier.fromHeaders({ authorization: `Bearer ${await token()}` })).toMatchObject({
      subject: 'user-1',
      scopes: ['device.read'],
      roles: ['technician'],
    });
  });

  it.each([
    ['signed by another key', () => token({ key: strangerKey })],
    ['for another audience', () => token({ aud: 'user-service' })],
    ['from another issuer', () => token({ iss: 'http://evil.test/' })],
    ['expired', () => token({ exp: now() - 60 })],
    [
      'unsigned (alg none)',
      async () => new UnsecuredJWT({ sub: 'user-1', aud: 'device-service', iss: ISSUER }).encode(),
    ],
    [
      'tampered with',
      async () => {
        const [header, , signature] = (await token()).split('.');
        const forged = Buffer.from(
          JSON.stringify({ sub: 'admin', aud: 'device-service', iss: ISSUER, exp: now() + 60 }),
        ).toString('base64url');
        return `${header}.${forged}.${signature}`;
      },
    ],
    ['not a JWT', async () => 'ory_at_opaque-access-token'],
  ])('refuses a token %s', async (_label, make) => {
    await expect(verifier.verify(await make())).rejects.toThrow(IdentityError);
  });

  it('ignores X-User-* headers: without the gateway token there is no identity', async () => {
    await expect(verifier.fromHeaders({ 'x-user-id': 'admin', 'x-user-roles': 'admin' })).rejects.toThrow(
      'no gateway identity on the request',
    );
    const identity = await verifier.fromHeaders({
      authorization: `Bearer ${await token()}`,
      'x-user-id': 'admin',
    });
    expect(identity.subject).toBe('user-1');
  });
});
