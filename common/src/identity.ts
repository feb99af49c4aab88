import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { env } from './config.js';

/** The roles an account can hold. user-service assigns them, the tokens carry them, every service reads them. */
export const ROLES = ['homeowner', 'technician', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return (ROLES as readonly unknown[]).includes(value);
}

/** Who is calling, as the access proxy's signed id_token says. Nothing else identifies a caller. */
export interface Caller {
  id: string;
  scopes: ReadonlySet<string>;
  roles: ReadonlySet<Role>;
}

export interface IdentityVerifierOptions {
  /** The access proxy's JWKS: fetched over http(s), or read once from a file:// mounted as a secret. */
  jwksUrl: string;
  /** The `iss` the proxy writes (its ID_TOKEN_ISSUER_URL). */
  issuer: string;
  /** This service's name, as the rules' id_token claims write it in `aud`. */
  audience: string;
  /** Keys to verify against instead of jwksUrl, for a caller that already holds the proxy's key set. */
  keys?: JWTVerifyGetKey;
}

/** The caller could not be identified; answered with 401 and no detail. */
export class IdentityRejected extends Error {
  override name = 'IdentityRejected';
}

// What the access proxy signs with; `none` and HMAC are never accepted (no algorithm confusion).
const ALGORITHMS = ['ES256', 'EdDSA', 'RS256'];

/** Oathkeeper renders the introspected `scope` as written there: a space-separated string. */
function scopesOf(claims: JWTPayload): string[] {
  const scope = claims.scope;
  if (typeof scope === 'string') return scope.split(' ').filter(Boolean);
  if (Array.isArray(scope)) return scope.filter((s): s is string => typeof s === 'string');
  return [];
}

/**
 * Verifies the id_token the access proxy's `id_token` mutator puts in `Authorization: Bearer`:
 * signature against the proxy's JWKS, issuer, audience, expiry. A client's own access token, an
 * `X-User-*` header or a token for another service identifies nobody.
 * https://www.ory.sh/docs/oathkeeper/pipeline/mutator#id_token
 */
export class IdentityVerifier {
  private keys: JWTVerifyGetKey | undefined;

  constructor(private readonly options: IdentityVerifierOptions) {
    this.keys = options.keys;
  }

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
    // An unknown role grants nothing, so it is dropped rather than refused.
    const roles = Array.isArray(claims.roles) ? claims.roles.filter(isRole) : [];
    return { id: claims.sub as string, scopes: new Set(scopesOf(claims)), roles: new Set(roles) };
  }

  private async keySet(): Promise<JWTVerifyGetKey> {
    if (this.keys) return this.keys;
    const url = new URL(this.options.jwksUrl);
    this.keys =
      url.protocol === 'file:'
        ? createLocalJWKSet(JSON.parse(await readFile(fileURLToPath(url), 'utf8')))
        : createRemoteJWKSet(url);
    return this.keys;
  }
}

/**
 * The variables of a service that accepts callers from the access proxy; the defaults are the
 * embedded gateway's internal listener.
 */
export function identityConfig(audience: string) {
  return {
    IDENTITY_JWKS_URL: env.url("The access proxy's JWKS, whose keys sign the id_token of every request", {
      schemes: ['http', 'https', 'file'],
      fallback: 'http://127.0.0.1:4456/.well-known/jwks.json',
    }),
    IDENTITY_ISSUER: env.string(
      'http://127.0.0.1:4456/',
      'The `iss` the access proxy writes in its id_tokens',
    ),
    IDENTITY_AUDIENCE: env.string(audience, 'The `aud` the access proxy writes for this service'),
  };
}
