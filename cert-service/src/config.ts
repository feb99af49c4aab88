import { baseConfig, databaseConfig, env, type ConfigOf } from '@spincycle/common';

export const config = {
  ...baseConfig,
  ...databaseConfig,
  PORT: env.port(3030, 'HTTP port of cert-service'),
  INTERNAL_API_TOKEN: env.secret(
    'Bearer token device-service presents on /internal/v1 (the internal API is never routed publicly)',
    32,
  ),
  SECRET_PEPPER: env.secret(
    'Server pepper keying the HMAC-SHA-256 hashes of MQTT passwords, service secrets and enrolment secrets',
    32,
  ),
  OAUTH2_INTROSPECTION_URL: env.url(
    'RFC 7662 token introspection endpoint (Hydra: <admin>/admin/oauth2/introspect); app logins are refused when unset',
    { schemes: ['http', 'https'] },
  ),
  OAUTH2_INTROSPECTION_CLIENT_ID: env.optional(
    'Client id for HTTP Basic auth at the introspection endpoint, if it wants one',
  ),
  OAUTH2_INTROSPECTION_CLIENT_SECRET: env.optionalSecret(
    'Client secret for HTTP Basic auth at the introspection endpoint',
    1,
  ),
  INTROSPECTION_TIMEOUT_MS: env.integer(
    3000,
    'How long an introspection call may take before the login is refused',
    {
      min: 100,
      max: 30_000,
    },
  ),
  DECISION_CACHE_TTL_MS: env.integer(300_000, 'Upper bound on how long a cached broker decision is reused', {
    min: 0,
    max: 3_600_000,
  }),
  DECISION_CACHE_MAX_ENTRIES: env.integer(200_000, 'Most broker decisions kept in memory', {
    min: 0,
    max: 10_000_000,
  }),
  WEBHOOK_CACHE_MAX_AGE_S: env.integer(
    0,
    'cache-control max-age sent with allowed auth_on_publish/subscribe answers; 0 sends none (VerneMQ cannot be told to forget)',
    { min: 0, max: 60 },
  ),
  BROKER_ADMIN_URL: env.url(
    "The broker's admin API (broker/), told at once when a certificate is revoked or access ends; unset with VerneMQ",
    { schemes: ['http', 'https'] },
  ),
  BROKER_ADMIN_TOKEN: env.optionalSecret('Bearer token of the broker admin API', 32),
  MQTT_URL: env.url(
    'Broker URL through which cert-service tells devices to renew their certificates; renewal notices are off when unset',
    { schemes: ['mqtt', 'mqtts', 'ws', 'wss'] },
  ),
  MQTT_CA_FILE: env.optional(
    'PEM file of the CA that signed the broker certificate, when not a public CA',
    'a file path',
  ),
  MQTT_SERVICE_ID: env.string(
    'cert-service',
    "cert-service's MQTT username, a service identity it registers itself",
  ),
  MQTT_SERVICE_SECRET: env.optionalSecret(
    "cert-service's MQTT password, stored as its service identity's secret at start (required with MQTT_URL)",
    16,
  ),
  RENEWAL_NOTICE_DAYS: env.integer(
    30,
    'A device whose certificate has fewer days left is sent a renewal notice when it subscribes to its ota topic',
    { min: 1, max: 364 },
  ),
  PUBLIC_ENROLMENT_URL: env.url('The enrolment endpoint as devices reach it, named in renewal notices', {
    schemes: ['http', 'https'],
    fallback: 'http://127.0.0.1:4455/v1/pki/enrolments',
  }),
  PKI_BACKEND: env.oneOf(['local', 'vault'] as const, 'local', 'Which CA signs device certificates'),
  PKI_REVOKE_RETRY_MS: env.integer(
    60_000,
    'How often revocations the PKI backend refused or missed are sent again (also once at start)',
    { min: 1000, max: 3_600_000 },
  ),
  CA_KEY_ENCRYPTION_KEY: env.optionalSecret(
    'Base64 of 32 bytes that encrypt the local CA key (AES-256-GCM); when unset a 0600 key file under DATA_DIR is used',
    44,
  ),
  VAULT_ADDR: env.url('Vault server URL (PKI_BACKEND=vault)', {
    schemes: ['http', 'https'],
    fallback: 'http://127.0.0.1:8200',
  }),
  VAULT_AUTH: env.oneOf(['token', 'kubernetes'] as const, 'token', 'How cert-service logs in to Vault'),
  VAULT_TOKEN: env.optionalSecret('Vault token (VAULT_AUTH=token)', 1),
  VAULT_KUBERNETES_ROLE: env.optional('Vault role for Kubernetes auth (VAULT_AUTH=kubernetes)'),
  VAULT_KUBERNETES_MOUNT: env.string('kubernetes', "Mount path of Vault's Kubernetes auth method"),
  VAULT_KUBERNETES_JWT_PATH: env.string(
    '/var/run/secrets/kubernetes.io/serviceaccount/token',
    'Service-account token file presented to Vault',
  ),
  VAULT_PKI_MOUNT: env.string('pki', 'Mount path of the PKI secrets engine'),
  VAULT_PKI_ROLE: env.string(
    'device',
    'PKI role that signs device certificates (client_flag only, cn_validations=disabled)',
  ),
};

export type CertServiceConfig = ConfigOf<typeof config>;
