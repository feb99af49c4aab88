import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

/** Algorithms the id_token mutator signs with, by key type; symmetric keys are refused. */
function algorithmOf(jwk: JWK): string {
  if (jwk.alg) return jwk.alg;
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'RSA') return 'RS256';
  throw new Error(`unsupported signing key type ${jwk.kty ?? '(none)'}`);
}

const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

function publicPart(jwk: JWK): JWK {
  return Object.fromEntries(Object.entries(jwk).filter(([name]) => !PRIVATE_MEMBERS.has(name))) as JWK;
}

interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey | Uint8Array;
  publicJwk: JWK;
}

/**
 * The id_token mutator's keys: the first signs, all are published in the JWKS the services fetch,
 * so a retiring key can stay listed until the tokens it signed have expired.
 */
export class SigningKeys {
  private constructor(private readonly keys: [SigningKey, ...SigningKey[]]) {}

  /** A fresh ES256 key for this process (the embedded default). */
  static async generate(): Promise<SigningKeys> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: false });
    const kid = randomUUID();
    const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
    return new SigningKeys([{ kid, alg: 'ES256', privateKey, publicJwk }]);
  }

  /** A JWKS file with private keys, as Oathkeeper's `jwks_url` (file://) holds them. */
  static async fromFile(path: string): Promise<SigningKeys> {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as { keys?: JWK[] };
    const keys: SigningKey[] = [];
    for (const [i, jwk] of (parsed.keys ?? []).entries()) {
      if (jwk.kty === 'oct') throw new Error(`key ${i} of ${path} is symmetric; services could forge tokens`);
      if (!jwk.d) throw new Error(`key ${i} of ${path} has no private part`);
      const alg = algorithmOf(jwk);
      const kid = jwk.kid ?? `key-${i}`;
      keys.push({
        kid,
        alg,
        privateKey: await importJWK(jwk, alg),
        publicJwk: { ...publicPart(jwk), kid, alg, use: 'sig' },
      });
    }
    const [first, ...rest] = keys;
    if (!first) throw new Error(`${path} holds no key`);
    return new SigningKeys([first, ...rest]);
  }

  /** The public JWKS served to services. */
  get jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((key) => key.publicJwk) };
  }

  async sign(claims: JWTPayload, subject: string, issuer: string, ttlMs: number): Promise<string> {
    const key = this.keys[0];
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setSubject(subject)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + Math.max(1, Math.round(ttlMs / 1000)))
      .setJti(randomUUID())
      .sign(key.privateKey);
  }
}
