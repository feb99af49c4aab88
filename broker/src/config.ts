import { baseConfig, env } from '@spincycle/common';

export const config = {
  ...baseConfig,
  DATA_DIR: env.string('.data', 'Directory for local state (the generated development server certificate)'),
  HTTP_PORT: env.port(
    3050,
    'Internal HTTP port of the broker: health, metrics, admin API; bound to 127.0.0.1',
  ),
  MQTTS_PORT: env.port(
    8883,
    'MQTT over TLS for devices; a client certificate from the device CA is required',
  ),
  WSS_PORT: env.port(8884, 'MQTT over secure WebSockets for the app; the password is an OAuth2 access token'),
  WS_DEV_PORT: env.optionalPort(
    'Plain MQTT over WebSockets for local development, on 127.0.0.1 only; off when unset',
  ),
  TLS_CERT_FILE: env.optional(
    "PEM file of the broker's server certificate chain; a self-signed one is generated under DATA_DIR when unset",
    'a file path',
  ),
  TLS_KEY_FILE: env.optional('PEM file of the private key of TLS_CERT_FILE', 'a file path'),
  DEVICE_CA_URL: env.url('Where the device CA chain (PEM) is read from', {
    schemes: ['http', 'https'],
    fallback: 'http://127.0.0.1:3030/v1/pki/ca',
  }),
  DEVICE_CRL_URL: env.url('Where the device CRL (PEM) is read from', {
    schemes: ['http', 'https'],
    fallback: 'http://127.0.0.1:3030/v1/pki/crl.pem',
  }),
  CRL_REFRESH_SECONDS: env.integer(60, 'How often the CRL is re-read when no change is signalled', {
    min: 5,
    max: 86_400,
  }),
  WEBHOOK_URL: env.url("cert-service's VerneMQ webhook endpoint; every hook is POSTed there", {
    schemes: ['http', 'https'],
    fallback: 'http://127.0.0.1:3030/webhooks/vernemq',
  }),
  WEBHOOK_TIMEOUT_MS: env.integer(2000, 'How long a webhook may take before the request is refused', {
    min: 50,
    max: 60_000,
  }),
  WEBHOOK_MAX_CONNECTIONS: env.integer(
    256,
    'Most connections open to cert-service at once; further webhook calls queue in the broker until one is free',
    { min: 1, max: 4096 },
  ),
  WEBHOOK_CACHE_MAX_ENTRIES: env.integer(
    100_000,
    'Webhook answers kept when cert-service sends cache-control: max-age (as VerneMQ does); 0 turns the cache off',
    { min: 0, max: 10_000_000 },
  ),
  REDIS_URL: env.url(
    'Redis for persistent sessions and QoS 1 messages across restarts; in memory when unset',
    {
      schemes: ['redis'],
      secret: true,
    },
  ),
  ADMIN_TOKEN: env.optionalSecret(
    'Bearer token of the admin API (disconnects, CRL refresh); the admin API is off when unset',
    32,
  ),
  MAX_PACKET_BYTES: env.integer(65_536, 'Largest MQTT packet a client may send; larger ones disconnect it', {
    min: 1024,
    max: 268_435_455,
  }),
  MAX_PUBLISH_PER_SECOND: env.integer(50, 'Publishes per second one client may sustain (burst twice that)', {
    min: 1,
    max: 100_000,
  }),
  MAX_INFLIGHT_MESSAGES: env.integer(
    100,
    'QoS 1 and 2 publishes one client may have in flight (awaiting authorization, or PUBREL for QoS 2); one more disconnects it',
    { min: 1, max: 65_535 },
  ),
  MAX_CONNECTS_PER_MINUTE_PER_IP: env.integer(600, 'New connections per minute from one IP address', {
    min: 1,
    max: 1_000_000,
  }),
};
