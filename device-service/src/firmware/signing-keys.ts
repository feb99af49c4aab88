import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/**
 * The Ed25519 public keys firmware images must be signed with. The private keys stay offline
 * (a release engineer signs the image's SHA-256 digest); device-service only verifies.
 */
export class FirmwareSigningKeys {
  private constructor(private readonly keys: ReadonlyMap<string, KeyObject>) {}

  /**
   * `FIRMWARE_SIGNING_KEYS`: comma-separated `<key id>:<base64 of the 32-byte raw public key>`,
   * as libsodium, signify or `openssl pkey -pubout -outform DER | tail -c 32` give it.
   */
  static parse(value: string | undefined): FirmwareSigningKeys {
    const keys = new Map<string, KeyObject>();
    for (const entry of (value ?? '').split(',').map((e) => e.trim())) {
      if (entry === '') continue;
      const colon = entry.indexOf(':');
      const id = entry.slice(0, colon);
      const raw = Buffer.from(entry.slice(colon + 1), 'base64');
      if (colon <= 0 || !/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
        throw new Error('FIRMWARE_SIGNING_KEYS: each entry must be <key id>:<base64 public key>');
      }
      if (raw.length !== 32) {
        throw new Error(`FIRMWARE_SIGNING_KEYS: key ${id} is not a 32-byte Ed25519 public key`);
      }
      if (keys.has(id)) throw new Error(`FIRMWARE_SIGNING_KEYS: key ${id} is listed twice`);
      keys.set(
        id,
        createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' }),
      );
    }
    return new FirmwareSigningKeys(keys);
  }

  get size(): number {
    return this.keys.size;
  }

  has(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  /** Whether `signature` is the key's Ed25519 signature over the image's SHA-256 digest. */
  verifies(keyId: string, sha256: Buffer, signature: Buffer): boolean {
    const key = this.keys.get(keyId);
    if (!key || signature.length !== 64) return false;
    return verify(null, sha256, key, signature);
  }
}
