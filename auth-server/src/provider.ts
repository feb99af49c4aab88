import type { JsonWebKey } from 'node:crypto';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { ConfigOf } from '@spincycle/common';
import type { config } from './config.js';
import type { GrantSessions } from './storage/grant-sessions.js';
import type { LogoutRequests } from './storage/logout-requests.js';
import { adapterFactory, type PayloadRepository } from './storage/payload.repository.js';

export type AuthServerConfig = ConfigOf<typeof config>;

/** Hydra's public paths, so that clients written against Hydra talk to this server unchanged. */
export const PUBLIC_ROUTES = {
  authorization: '/oauth2/auth',
  token: '/oauth2/token',
  revocation: '/oauth2/revoke',
  userinfo: '/userinfo',
  jwks: '/.well-known/jwks.json',
  end_session: '/oauth2/sessions/logout',
} as const;

/**
 * The scopes of the Spincycle API: every `required_scope` of oathkeeper-rules.json and
 * oathkeeper-admin-rules.json (a test keeps them in step).
 */
export const API_SCOPES = [
  'device.read',
  'device.control',
  'events.read',
  'device.claim',
  'device.share',
  'admin.provision',
  'admin.firmware',
  'admin.users',
] as const;

/**
 * Every scope a client may be registered for and granted. oidc-provider drops a requested scope
 * it does not list here, unless a resource indicator sends it to a resource server, whose access
 * token then carries that server's scopes only and is refused at /userinfo. Hydra has no resource
 * servers: one access token carries every granted scope (`openid` next to `device.read`, which
 * the access rules demand together) and works at /userinfo too. Listing the API scopes as the
 * server's own gives that token; which of them a client may ask for is its `scope`, as in Hydra.
 */
export const SUPPORTED_SCOPES = ['openid', 'offline_access', 'email', ...API_SCOPES];

// Hydra's defaults (ttl.login_consent_request, ttl.auth_code, ttl.id_token, session and grant lifetimes).
const FLOW_TTL_SECONDS = 30 * 60;
const AUTHORIZATION_CODE_TTL_SECONDS = 10 * 60;
const ID_TOKEN_TTL_SECONDS = 60 * 60;
const SESSION_TTL_SECONDS = 30 * 24 * 3600;

export interface ProviderDependencies {
  config: AuthServerConfig;
  issuer: string;
  payloads: PayloadRepository;
  grantSessions: GrantSessions;
  logoutRequests: LogoutRequests;
  signingKeys: JsonWebKey[];
  cookieKeys: string[];
}

function withQuery(base: string, name: string, value: string): string {
  const url = new URL(base);
  url.searchParams.set(name, value);
  return url.toString();
}

export function createProvider(deps: ProviderDependencies): Provider {
  const { config: cfg, grantSessions, logoutRequests } = deps;
  const configuration: Configuration = {
    adapter: adapterFactory(deps.payloads),
    jwks: { keys: deps.signingKeys },
    cookies: {
      keys: deps.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    routes: PUBLIC_ROUTES,
    scopes: SUPPORTED_SCOPES,
    // Roles arrive through the consent session data; Hydra puts that data into the ID token.
    claims: { openid: ['sub', 'roles'], email: ['email', 'email_verified'] },
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      // Hydra introspects on the admin port only; the public port must not answer it.
      introspection: { enabled: false },
      registration: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx: KoaContextWithOIDC) => {
          const challenge = await logoutRequests.start(ctx);
          ctx.status = 303;
          ctx.redirect(withQuery(cfg.LOGOUT_URL, 'logout_challenge', challenge));
        },
      },
    },
    // Mobile apps are public clients: PKCE (S256 only, the library refuses `plain`) is mandatory.
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      id_token_signed_response_alg: 'RS256',
    },
    extraClientMetadata: {
      properties: ['skip_consent', 'audience', 'client_created_at', 'client_updated_at'],
    },
    responseTypes: ['code'],
    // Every refresh rotates the token; presenting a used one revokes the whole grant.
    rotateRefreshToken: true,
    ttl: {
      AccessToken: cfg.ACCESS_TOKEN_TTL_SECONDS,
      AuthorizationCode: AUTHORIZATION_CODE_TTL_SECONDS,
      IdToken: ID_TOKEN_TTL_SECONDS,
      RefreshToken: cfg.REFRESH_TOKEN_TTL_SECONDS,
      Interaction: FLOW_TTL_SECONDS,
      Session: SESSION_TTL_SECONDS,
      Grant: cfg.REFRESH_TOKEN_TTL_SECONDS,
    },
    interactions: {
      url: (_ctx, interaction) =>
        interaction.prompt.name === 'login'
          ? withQuery(cfg.LOGIN_URL, 'login_challenge', interaction.uid)
          : withQuery(cfg.CONSENT_URL, 'consent_challenge', interaction.uid),
    },
    findAccount: async (ctx, sub, token) => {
      const grantId = token?.grantId ?? ctx.oidc.entities.Grant?.jti;
      const session = await grantSessions.find(grantId);
      return { accountId: sub, claims: () => ({ ...session?.idToken, sub }) };
    },
    extraTokenClaims: async (_ctx, token) => {
      if (token.kind !== 'AccessToken') return undefined;
      const session = await grantSessions.find(token.grantId);
      return session ? { ext: session.accessToken, aud: session.audience } : undefined;
    },
    renderError: (ctx, out) => {
      ctx.type = 'json';
      ctx.body = { error: out.error, error_description: out.error_description };
    },
  };
  const provider = new Provider(deps.issuer, configuration);
  provider.on('grant.revoked', (_ctx, grantId) => void grantSessions.remove(grantId));
  return provider;
}
