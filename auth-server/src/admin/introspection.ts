import type Provider from 'oidc-provider';
import { z } from 'zod';

export const introspectSchema = z.object({
  token: z.string().min(1, 'token is required'),
  scope: z.string().optional(),
});

/** Hydra's `introspectedOAuth2Token` (oauth2/introspector.go field names). */
export type IntrospectedToken =
  | { active: false }
  | {
      active: true;
      scope: string;
      client_id: string;
      sub: string;
      exp: number;
      iat: number;
      nbf: number;
      aud: string[];
      iss: string;
      token_type: 'Bearer';
      token_use: 'access_token' | 'refresh_token';
      ext?: Record<string, unknown>;
    };

const INACTIVE = { active: false } as const;

/**
 * RFC 7662 introspection the way Hydra answers it: anything unknown, expired, used or lacking a
 * requested scope is `{"active": false}` with status 200.
 */
export async function introspect(
  provider: Provider,
  issuer: string,
  request: z.infer<typeof introspectSchema>,
): Promise<IntrospectedToken> {
  const access = await provider.AccessToken.find(request.token);
  const refresh = access ? undefined : await provider.RefreshToken.find(request.token);
  const token = access ?? refresh;
  if (!token || token.isExpired || !token.accountId || !token.clientId || !token.exp || !token.iat) {
    return INACTIVE;
  }
  if (refresh?.consumed) return INACTIVE;
  // A token outlives nothing it was issued under: a revoked grant deactivates it.
  if (!token.grantId || !(await provider.Grant.find(token.grantId))) return INACTIVE;
  const scopes = new Set((token.scope ?? '').split(' ').filter((s) => s.length > 0));
  const required = (request.scope ?? '').split(' ').filter((s) => s.length > 0);
  if (!required.every((s) => scopes.has(s))) return INACTIVE;
  const extra = access?.extra ?? {};
  const ext = extra.ext as Record<string, unknown> | undefined;
  const aud = Array.isArray(extra.aud) ? extra.aud.map(String) : [];
  return {
    active: true,
    scope: [...scopes].join(' '),
    client_id: token.clientId,
    sub: token.accountId,
    exp: token.exp,
    iat: token.iat,
    nbf: token.iat,
    aud,
    iss: issuer,
    token_type: 'Bearer',
    token_use: access ? 'access_token' : 'refresh_token',
    ...(ext && Object.keys(ext).length > 0 ? { ext } : {}),
  };
}
