import { baseConfig, env } from '@spincycle/common';
import { DEFAULT_CACHE_MAX_TTL_MS } from './pipeline/introspection.js';

const KIB = 1024;

export const config = {
  ...baseConfig,
  PROXY_PORT: env.port(4455, 'Public port of the access proxy (Oathkeeper proxy)'),
  API_PORT: env.port(4456, 'Internal port of the access proxy: health, metrics, JWKS (Oathkeeper API)'),
  ADMIN_PROXY_PORT: env.port(
    4457,
    'Port of the admin access proxy, bound to 127.0.0.1; it serves ADMIN_RULES_PATH only',
  ),
  RULES_PATH: env.string(
    'oathkeeper-rules.json',
    'Access rules of the public proxy: a local JSON or YAML file in Oathkeeper format',
  ),
  ADMIN_RULES_PATH: env.optional(
    'Access rules of the admin proxy (JSON or YAML); the admin listener is off when unset',
    'a file path',
  ),
  MATCHING_STRATEGY: env.oneOf(
    ['regexp', 'glob'] as const,
    'regexp',
    "Oathkeeper's access_rules.matching_strategy for both rule files",
  ),
  INTROSPECTION_URL: env.url('OAuth2 token introspection endpoint (Hydra admin API, RFC 7662)', {
    schemes: ['http', 'https'],
    fallback: 'http://127.0.0.1:4445/admin/oauth2/introspect',
  }),
  INTROSPECTION_CACHE_MAX_TTL_MS: env.integer(
    DEFAULT_CACHE_MAX_TTL_MS,
    "Longest an active introspection answer is reused, whatever a rule's cache.ttl says: " +
      'how long a revoked access token may still pass; 0 turns the cache off',
    { min: 0, max: 3_600_000 },
  ),
  ID_TOKEN_ISSUER_URL: env.url('The `iss` of the id_token mutator JWTs that services verify', {
    schemes: ['http', 'https'],
    fallback: 'http://127.0.0.1:4456/',
  }),
  ID_TOKEN_TTL: env.oneOf(
    ['30s', '1m', '2m', '5m', '15m'] as const,
    '1m',
    'Lifetime of the id_token mutator JWTs (Oathkeeper duration)',
  ),
  ID_TOKEN_KEYS_FILE: env.optional(
    'JWKS file with the private signing key(s) of the id_token mutator (the first signs); ' +
      'a fresh ES256 key is made at each start when unset',
    'a file path',
  ),
  TRUST_FORWARDED_HEADERS: env.boolean(
    false,
    'Trust X-Forwarded-For/-Proto/-Host from the connecting peer (only behind a load balancer that sets them)',
  ),
  MAX_BODY_BYTES: env.integer(1024 * KIB, 'Largest request body the public proxy forwards', {
    min: 1,
    max: 1024 * 1024 * KIB,
  }),
  ADMIN_MAX_BODY_BYTES: env.integer(
    256 * 1024 * KIB,
    'Largest request body the admin proxy forwards (firmware images)',
    { min: 1, max: 4 * 1024 * 1024 * KIB },
  ),
  UPSTREAM_TIMEOUT_MS: env.integer(30_000, 'How long an upstream may stay silent before a 504', {
    min: 100,
    max: 600_000,
  }),
  TLS_CERT_FILE: env.optional(
    'PEM certificate chain of the public listener; TLS is off when unset',
    'a file path',
  ),
  TLS_KEY_FILE: env.optional('PEM private key of the public listener (with TLS_CERT_FILE)', 'a file path'),
  HSTS_MAX_AGE: env.integer(31_536_000, 'Strict-Transport-Security max-age in seconds (TLS only)', {
    min: 0,
    max: 63_072_000,
  }),
  CORS_ALLOWED_ORIGINS: env.optional(
    'Comma-separated origins allowed by CORS on the public listener; CORS is closed when unset',
    'a comma-separated list of origins such as https://app.example.com',
  ),
  RATE_LIMIT_PER_MINUTE: env.integer(600, 'Requests per minute per client IP on the proxy listeners', {
    min: 1,
    max: 1_000_000,
  }),
  RATE_LIMIT_BURST: env.integer(100, 'Requests a client IP may make at once before the rate applies', {
    min: 1,
    max: 1_000_000,
  }),
};
