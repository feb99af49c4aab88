import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityRejected, IdentityVerifier } from './identity-verifier.js';

const ISSUER = 'http://gateway.test/';
let dir: string;
let key: CryptoKey;
let verifier: IdentityVerifier;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  key = pair.privateKey;
  dir = await mkdtemp(join(tmpdir(), 'device-service-jwks-'));
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

const sign = (claims: Record<string, unknown>, alg = 'ES256') =>
  new SignJWT(claims)
    .setProtectedHeader({ alg, kid: 'k1' })
    .setSubject('user-1')
    .setIssuer(ISSUER)
    .setAudience('device-service')
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(key);

describe('IdentityVerifier with a key set mounted as a file', () => {
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
    ['a token that is no JWT', 'Bearer not-a-jwt'],
    ['an unsigned token', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyLTEifQ.'],
  ])('refuses %s', async (_what, header) => {
    await expect(verifier.fromAuthorization(header)).rejects.toBeInstanceOf(IdentityRejected);
  });
});
