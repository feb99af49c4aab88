import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FirmwareSigningKeys } from './signing-keys.js';

const rawPublic = (key: ReturnType<typeof generateKeyPairSync>['publicKey']) => {
  const spki = key.export({ format: 'der', type: 'spki' });
  return spki.subarray(spki.length - 32).toString('base64');
};

describe('firmware signing keys', () => {
  const a = generateKeyPairSync('ed25519');
  const b = generateKeyPairSync('ed25519');
  const keys = FirmwareSigningKeys.parse(`rel-a:${rawPublic(a.publicKey)}, rel-b:${rawPublic(b.publicKey)}`);
  const digest = createHash('sha256').update('image').digest();

  it('verifies a signature over the digest made with the named key only', () => {
    const signature = sign(null, digest, a.privateKey);
    expect(keys.verifies('rel-a', digest, signature)).toBe(true);
    expect(keys.verifies('rel-b', digest, signature)).toBe(false);
    expect(keys.verifies('rel-c', digest, signature)).toBe(false);
    expect(keys.verifies('rel-a', createHash('sha256').update('other').digest(), signature)).toBe(false);
    expect(keys.verifies('rel-a', digest, signature.subarray(1))).toBe(false);
  });

  it('is empty when unset', () => {
    expect(FirmwareSigningKeys.parse(undefined).size).toBe(0);
  });

  it.each([
    ['no id', `:${rawPublic(a.publicKey)}`],
    ['not 32 bytes', 'rel-a:AAAA'],
    ['a listed twice', `rel-a:${rawPublic(a.publicKey)},rel-a:${rawPublic(b.publicKey)}`],
    ['no colon', 'rel-a'],
  ])('refuses a list with %s, naming the variable', (_what, value) => {
    expect(() => FirmwareSigningKeys.parse(value)).toThrow(/FIRMWARE_SIGNING_KEYS/);
  });
});
