import { baseConfig, databaseConfig, env, identityConfig, type ConfigOf } from '@spincycle/common';

export const config = {
  ...baseConfig,
  ...databaseConfig,
  PORT: env.port(3020, 'HTTP port of device-service'),
  SECRET_PEPPER: env.secret('Server pepper keying the HMAC-SHA-256 hashes of claim codes', 32),
  ...identityConfig('device-service'),
  CERT_SERVICE_URL: env.url("Base URL of cert-service's internal API", {
    schemes: ['http', 'https'],
    fallback: 'http://127.0.0.1:3030',
  }),
  CERT_SERVICE_TOKEN: env.secret("Bearer token of cert-service's internal API (its INTERNAL_API_TOKEN)", 32),
  CERT_SERVICE_TIMEOUT_MS: env.integer(5000, 'How long a call to cert-service may take', {
    min: 100,
    max: 60_000,
  }),
  CLAIM_ATTEMPTS_BEFORE_LOCKOUT: env.integer(
    5,
    'Wrong claim codes a device or a user may present before claiming is locked for them',
    { min: 1, max: 100 },
  ),
  CLAIM_LOCKOUT_BASE_SECONDS: env.integer(60, 'First claim lockout; each further failure doubles it', {
    min: 1,
    max: 86_400,
  }),
  CLAIM_LOCKOUT_MAX_SECONDS: env.integer(86_400, 'Longest claim lockout', { min: 1, max: 2_592_000 }),
  PROVISIONING_TOKEN_TTL_SECONDS: env.integer(
    900,
    'How long a first-connect provisioning token stays valid for the device to present it',
    { min: 60, max: 86_400 },
  ),
  EVENT_RETENTION_DAYS: env.integer(395, 'Events (and dead letters) older than this are deleted', {
    min: 1,
    max: 36_500,
  }),
  EVENT_RETENTION_BATCH: env.integer(5000, 'Rows deleted per statement when old events are purged', {
    min: 1,
    max: 1_000_000,
  }),
  EVENT_RETENTION_INTERVAL_MS: env.integer(3_600_000, 'How often old events are purged', {
    min: 1000,
    max: 86_400_000,
  }),
  MQTT_URL: env.url(
    'Broker URL for device commands and event ingestion; without it settings changes answer 502 and no event is ingested',
    { schemes: ['mqtt', 'mqtts', 'ws', 'wss'] },
  ),
  MQTT_CA_FILE: env.optional(
    'PEM file of the CA that signed the broker certificate, when not a public CA',
    'a file path',
  ),
  MQTT_SERVICE_ID: env.string(
    'device-service',
    "device-service's MQTT username (a service identity at cert-service)",
  ),
  MQTT_SERVICE_SECRET: env.optionalSecret(
    "device-service's MQTT password; registered with cert-service at start (required with MQTT_URL)",
    16,
  ),
  MQTT_PUBLISH_TIMEOUT_MS: env.integer(5000, 'How long a command may wait for the broker to acknowledge it', {
    min: 100,
    max: 60_000,
  }),
  INGEST_BATCH_SIZE: env.integer(500, 'Most events stored in one insert (and acknowledged together)', {
    min: 1,
    max: 10_000,
  }),
  INGEST_BATCH_WAIT_MS: env.integer(20, 'How long a received event may wait for its batch to fill', {
    min: 0,
    max: 5000,
  }),
  FIRMWARE_SIGNING_KEYS: env.optional(
    'Ed25519 public keys that firmware images must be signed with: comma-separated <key id>:<base64 of the 32-byte key>; uploads are refused when unset',
    'comma-separated <key id>:<base64 key>',
  ),
  FIRMWARE_MAX_BYTES: env.integer(16 * 1024 * 1024, 'Largest firmware image accepted on upload', {
    min: 1024,
    max: 256 * 1024 * 1024,
  }),
  FIRMWARE_DIR: env.optional(
    'Where firmware images are kept (default: DATA_DIR/device-service/firmware)',
    'a directory path',
  ),
  FIRMWARE_DOWNLOAD_PORT: env.optionalPort(
    'HTTPS port where devices download firmware with their client certificate; off when unset',
  ),
  FIRMWARE_DOWNLOAD_URL: env.url(
    'Base URL devices are told to download firmware from (default: https://HOST:FIRMWARE_DOWNLOAD_PORT)',
    { schemes: ['https'] },
  ),
  FIRMWARE_TLS_CERT_FILE: env.optional(
    'PEM certificate of the firmware download listener; a self-signed one is made under DATA_DIR when unset',
    'a file path',
  ),
  FIRMWARE_TLS_KEY_FILE: env.optional('PEM private key of FIRMWARE_TLS_CERT_FILE', 'a file path'),
  DEVICE_CRL_REFRESH_MS: env.integer(
    30_000,
    "How often the firmware listener re-reads cert-service's device CRL",
    {
      min: 1000,
      max: 3_600_000,
    },
  ),
  INTERNAL_API_TOKEN: env.optionalSecret(
    'Bearer token user-service presents on /internal/v1 (account deletion); the internal API refuses every call when unset',
    32,
  ),
};

export type DeviceServiceConfig = ConfigOf<typeof config>;
