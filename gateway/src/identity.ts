import type { IncomingHttpHeaders } from 'node:http';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

/**
 * How a service learns who is calling: from the access proxy's id_token (the `id_token` mutator's
 * JWT in `Authorization: Bearer`), verified against the gateway's JWKS, for this service's audience,
 * unexpired. Nothing else identifies a caller: `X-User-*` headers and any other token are ignored.
 */
export interface GatewayIdentity {
  /** The user id (`sub`). */
  subject: string;
  /** OAuth2 scopes granted to the access token the gateway introspected. */
  scopes: string[];
  /** Roles from the token's session (homeowner, technician, admin), if the rule's claims carry them. */
  roles: string[];
  claims: JWTPayload;
}

export interface IdentityVerifierOptions {
  /** The gateway's JWKS, e.g. http://127.0.0.1:4456/.well-known/jwks.json. */
  jwksUrl: string;
  /** ID_TOKEN_ISSUER_URL of the gateway. */
  issuer: string;
  /** This service's name as the rules' `claims` write it in `aud`. */
  audience: string;
  /** For tests and key files: verify against these keys instead of fetching the JWKS. */
  keys?: JWTVerifyGetKey;
}

/** The caller could not be identified; services answer 401 without detail. */
export class IdentityError extends Error {
  override name = 'IdentityError';
}

// The algorithms the gateway signs with; `none` and HMAC are never accepted.
const ALGORITHMS = ['ES256', 'EdDSA', 'RS256'];

export interface IdentityVerifier {
  verify(token: string): Promise<GatewayIdentity>;
  fromHeaders(headers: IncomingHttpHeaders): Promise<GatewayIdentity>;
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

export function createIdentityVerifier(options: IdentityVerifierOptions): IdentityVerifier {
  const keys = options.keys ?? createRemoteJWKSet(new URL(options.jwksUrl));
  const verify = async (token: string): Promise<GatewayIdentity> => {
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['sub', 'exp', 'iat'],
        clockTolerance: 5,
      }));
    } catch (err) {
      const why = err instanceof errors.JOSEError ? err.code : 'unreadable token';
      throw new IdentityError(`gateway identity rejected: ${why}`);
    }
    const scope = typeof claims.scope === 'string' ? claims.scope : '';
    return {
      subject: claims.sub as string,
      scopes: scope.split(' ').filter(Boolean),
      roles: strings(claims.roles),
      claims,
    };
  };
  return {
    verify,
    async fromHeaders(headers) {
      const found = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '');
      if (!found?.[1]) throw new IdentityError('no gateway identity on the request');
      return verify(found[1]);
    },
  };
}
