import { baseConfig, databaseConfig, env } from '@spincycle/common';

export const config = {
  ...baseConfig,
  ...databaseConfig,
  PUBLIC_PORT: env.port(4444, 'Public OAuth2/OIDC port of auth-server (Hydra public API)'),
  ADMIN_PORT: env.port(
    4445,
    'Admin port of auth-server (Hydra admin API, health, metrics); always bound to 127.0.0.1',
  ),
  ISSUER_URL: env.url(
    'Issuer identifier and public base URL of auth-server; defaults to the public listener address',
    { schemes: ['https', 'http'] },
  ),
  LOGIN_URL: env.url('Login page of the login provider (user-service); receives login_challenge', {
    schemes: ['https', 'http'],
    fallback: 'http://127.0.0.1:3010/login',
  }),
  CONSENT_URL: env.url('Consent page of the login provider; receives consent_challenge', {
    schemes: ['https', 'http'],
    fallback: 'http://127.0.0.1:3010/consent',
  }),
  LOGOUT_URL: env.url('Logout page of the login provider; receives logout_challenge', {
    schemes: ['https', 'http'],
    fallback: 'http://127.0.0.1:3010/logout',
  }),
  POST_LOGOUT_REDIRECT_URL: env.url(
    'Where a browser goes after logout when the client gave no post_logout_redirect_uri',
    { schemes: ['https', 'http'], fallback: 'http://127.0.0.1:3010/logout/done' },
  ),
  TRUST_PROXY: env.boolean(
    false,
    'Whether X-Forwarded-Proto/Host are trusted (auth-server behind a TLS-terminating ingress); decides Secure cookies',
  ),
  COOKIE_KEYS: env.optionalSecret(
    'Comma-separated keys signing the authorization cookies (first signs, all verify); generated and stored in the database when unset',
    32,
  ),
  ACCESS_TOKEN_TTL_SECONDS: env.integer(900, 'Lifetime of opaque access tokens', { min: 60, max: 3600 }),
  REFRESH_TOKEN_TTL_SECONDS: env.integer(30 * 24 * 3600, 'Lifetime of refresh tokens', {
    min: 3600,
    max: 365 * 24 * 3600,
  }),
};
