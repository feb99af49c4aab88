import { baseConfig, databaseConfig, env, identityConfig, type ConfigOf } from '@spincycle/common';

export const config = {
  ...baseConfig,
  ...databaseConfig,
  PORT: env.port(3010, 'HTTP port of user-service'),
  HYDRA_ADMIN_URL: env.url('Admin API of the OAuth2 server (Ory Hydra, or auth-server on one machine)', {
    schemes: ['https', 'http'],
    fallback: 'http://127.0.0.1:4445',
  }),
  OAUTH2_PUBLIC_URL: env.url(
    'Public URL of the OAuth2 server; the pages may only send forms and redirects there and to themselves',
    { schemes: ['https', 'http'], fallback: 'http://127.0.0.1:4444' },
  ),
  // The account API (/me, roles) is reached through the access proxy only.
  ...identityConfig('user-service'),
  CSP_FORM_ACTION_EXTRA: env.optional(
    'Extra form-action sources of the pages, space-separated: the app redirect URI scheme (e.g. app.spincycle.mobile:), because browsers apply form-action to the redirects after a form post',
    'space-separated CSP sources',
  ),
  DEVICE_SERVICE_URL: env.url(
    "device-service's internal API, which releases a deleted account's devices; deletion records them as pending when unset",
    { schemes: ['http', 'https'] },
  ),
  DEVICE_SERVICE_TOKEN: env.optionalSecret(
    "Bearer token of device-service's internal API (its INTERNAL_API_TOKEN)",
    32,
  ),
  HIBP_URL: env.url('Base URL of hibp-service (leaked-password check)', {
    schemes: ['https', 'http'],
    fallback: 'http://127.0.0.1:3040',
  }),
  HIBP_TIMEOUT_MS: env.integer(3000, 'How long a leaked-password check may take before sign-up is refused', {
    min: 100,
    max: 30_000,
  }),
  BCRYPT_COST: env.integer(12, 'bcrypt cost factor of password hashes', { min: 10, max: 16 }),
  CSRF_SECRET: env.optionalSecret(
    'Key of the CSRF tokens on the pages; every replica needs the same one (a random per-process key when unset)',
    32,
  ),
  COOKIE_SECURE: env.boolean(true, 'Whether the pages set their cookies with the Secure attribute (HTTPS)'),
  CLIENT_ADDRESS_HEADER: env.optional(
    'Header in which the access proxy passes the client address (last entry wins, e.g. x-forwarded-for); set it only when user-service is reachable through the proxy alone, else per-address lockout counts the proxy',
    'a lower-case HTTP header name',
  ),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: env.integer(5, 'Failed logins on one e-mail address before it is locked', {
    min: 1,
    max: 100,
  }),
  LOGIN_MAX_FAILURES_PER_IP: env.integer(
    20,
    'Failed logins, and sign-ups that find an address in use, from one address before it is locked',
    { min: 1, max: 10_000 },
  ),
  LOGIN_LOCKOUT_SECONDS: env.integer(60, 'First lockout; each further failure doubles it', {
    min: 1,
    max: 3600,
  }),
  LOGIN_LOCKOUT_MAX_SECONDS: env.integer(3600, 'Longest lockout', { min: 1, max: 86_400 }),
};

export type UserServiceConfig = ConfigOf<typeof config>;
