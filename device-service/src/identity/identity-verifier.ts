import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ROLES, type Caller, type Role } from './caller.js';

export interface IdentityVerifierOptions {
  jwksUrl: string;
  issuer: string;
  audience: string;
}

/** The caller could not be identified; answered with 401 and no detail. */
export class IdentityRejected extends Error {
  override name = 'IdentityRejected';
}

// What the access proxy signs with; `none` and HMAC are never accepted.
const ALGORITHMS = ['ES256', 'EdDSA', 'RS256'];

const isRole = (value: unknown): value is Role => (ROLES as readonly unknown[]).includes(value);

/** Oathkeeper renders the introspected `scope` as written there: a space-separated string. */
function scopesOf(claims: JWTPayload): string[] {
  const scope = claims.scope;
  if (typeof scope === 'string') return scope.split(' ').filter(Boolean);
  if (Array.isArray(scope)) return scope.filter((s): s is string => typeof s === 'string');
  return [];
}

/**
 * Verifies the id_token the access proxy's `id_token` mutator puts in `Authorization: Bearer`:
 * signature against the proxy's JWKS, issuer, audience, expiry.
 * https://www.ory.sh/docs/oathkeeper/pipeline/mutator#id_token
 */
export class IdentityVerifier {
  private keys: JWTVerifyGetKey | undefined;

  constructor(private readonly options: IdentityVerifierOptions) {}

  async fromAuthorization(header: string | undefined): Promise<Caller> {
    const found = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!found?.[1]) throw new IdentityRejected('no identity token on the request');
    return this.verify(found[1]);
  }

  async verify(token: string): Promise<Caller> {
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, await this.keySet(), {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['sub', 'exp'],
        clockTolerance: 5,
      }));
    } catch (err) {
      const why = err instanceof errors.JOSEError ? err.code : 'unreadable token';
      throw new IdentityRejected(`identity token rejected: ${why}`);
    }
    const roles = Array.isArray(claims.roles) ? claims.roles.filter(isRole) : [];
    return { id: claims.sub as string, scopes: new Set(scopesOf(claims)), roles: new Set(roles) };
  }

  private async keySet(): Promise<JWTVerifyGetKey> {
    if (this.keys) return this.keys;
    const url = new URL(this.options.jwksUrl);
    // A file:// key set is the production shape where the proxy's keys are mounted as a secret.
    this.keys =
      url.protocol === 'file:'
        ? createLocalJWKSet(JSON.parse(await readFile(fileURLToPath(url), 'utf8')))
        : createRemoteJWKSet(url);
    return this.keys;
  }
}
