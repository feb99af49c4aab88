import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityRejected, IdentityVerifier } from './identity.js';

const ISSUER = 'http://gateway.test/';
let dir: string;
let proxyKey: CryptoKey;
let strangerKey: CryptoKey;
let verifier: IdentityVerifier;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  proxyKey = pair.privateKey;
  strangerKey = (await generateKeyPair('ES256')).privateKey;
  dir = await mkdtemp(join(tmpdir(), 'common-jwks-'));
  const file = join(dir, 'jwks.json');
  await writeFile(
    file,
    JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' }] }),
  );
  verifier = new IdentityVerifier({
    jwksUrl: pathToFileURL(file).href,
    issuer: ISSUER,
    audience: 'device-service',
  });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const now = () => Math.floor(Date.now() / 1000);

function sign(
  claims: Record<string, unknown> = { scope: 'device.read' },
  overrides: { key?: CryptoKey; iss?: string; aud?: string; exp?: number } = {},
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setSubject('user-1')
    .setIssuer(overrides.iss ?? ISSUER)
    .setAudience(overrides.aud ?? 'device-service')
    .setIssuedAt()
    .setExpirationTime(overrides.exp ?? now() + 60)
    .sign(overrides.key ?? proxyKey);
}

describe('IdentityVerifier with the access proxy key set mounted as a file', () => {
  it('reads subject, scopes and known roles from the id_token', async () => {
    const caller = await verifier.fromAuthorization(
      `Bearer ${await sign({ scope: 'device.read events.read', roles: ['technician', 'superuser'] })}`,
    );
    expect(caller.id).toBe('user-1');
    expect([...caller.scopes]).toEqual(['device.read', 'events.read']);
    // An unknown role grants nothing and is dropped.
    expect([...caller.roles]).toEqual(['technician']);
  });

  it('accepts scopes given as a list', async () => {
    const caller = await verifier.verify(await sign({ scope: ['device.read'] }));
    expect([...caller.scopes]).toEqual(['device.read']);
  });

  it.each([
    ['no header', undefined],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['a token that is no JWT', 'Bearer ory_at_opaque-access-token'],
  ])('refuses %s', async (_what, header) => {
    await expect(verifier.fromAuthorization(header)).rejects.toBeInstanceOf(IdentityRejected);
  });

  it.each([
    ['signed by another key', () => sign(undefined, { key: strangerKey })],
    ['for another service', () => sign(undefined, { aud: 'user-service' })],
    ['from another issuer', () => sign(undefined, { iss: 'http://evil.test/' })],
    ['expired', () => sign(undefined, { exp: now() - 60 })],
    [
      'unsigned (alg none)',
      async () => new UnsecuredJWT({ sub: 'user-1', aud: 'device-service', iss: ISSUER }).encode(),
    ],
    [
      'tampered with',
      async () => {
        const [header, , signature] = (await sign()).split('.');
        const forged = Buffer.from(
          JSON.stringify({ sub: 'admin', aud: 'device-service', iss: ISSUER, exp: now() + 60 }),
        ).toString('base64url');
        return `${header}.${forged}.${signature}`;
      },
    ],
  ])('refuses a token %s', async (_what, make) => {
    await expect(verifier.verify(await make())).rejects.toBeInstanceOf(IdentityRejected);
  });
});
