import { join } from 'node:path';
import { APP_CLIENT, APP_REDIRECT_SOURCES, registerAppClient } from '../app-client/app-client.js';
import type { StackSecrets } from './secrets.js';

/**
 * The embedded stack: which processes `npm start` runs, on which fixed ports, and how they find
 * each other. Ports stay clear of the well-known ports of servers a developer or CI machine may
 * already run (1883 MQTT, 5432 PostgreSQL, 6379 Redis, 5672 AMQP, 3306 MySQL, 4222 NATS).
 */
export interface Listener {
  /** The service's own variable that sets this port. */
  variable: string;
  port: number;
  role: string;
  scheme: 'http' | 'https' | 'mqtt' | 'mqtts' | 'wss';
  /** Whether this listener answers /health and /metrics. */
  ops?: boolean;
}

export interface StackService {
  name: string;
  /** Entry point, relative to the repository root. */
  entry: string;
  listeners: Listener[];
  /** Extra environment derived from the ports of the whole stack, its shared secrets and data directory. */
  links?: (ports: PortMap, secrets: StackSecrets, dataDir: string) => Record<string, string>;
  /** Services that must be ready before this one starts (it calls them at start-up). */
  after?: string[];
  /** Runs once the service first answers ready, before the stack counts as started; says what it did. */
  onReady?: (ports: PortMap) => Promise<string>;
}

export type PortMap = Record<string, Record<string, number>>;

/** Where a service behind the access proxy finds the keys and issuer of the proxy's id_tokens. */
function accessProxyIdentity(ports: PortMap): Record<string, string> {
  const gateway = `http://127.0.0.1:${ports.gateway?.API_PORT}`;
  return { IDENTITY_JWKS_URL: `${gateway}/.well-known/jwks.json`, IDENTITY_ISSUER: `${gateway}/` };
}

export const STACK: StackService[] = [
  {
    name: 'hibp-service',
    entry: 'hibp-service/dist/main.js',
    listeners: [{ variable: 'PORT', port: 3040, role: 'internal', scheme: 'http', ops: true }],
  },
  {
    name: 'auth-server',
    entry: 'auth-server/dist/main.js',
    listeners: [
      { variable: 'PUBLIC_PORT', port: 4444, role: 'public OAuth2', scheme: 'http' },
      { variable: 'ADMIN_PORT', port: 4445, role: 'admin', scheme: 'http', ops: true },
    ],
    // Browsers reach the login provider's pages through the access proxy, like every public route.
    links: (ports) => {
      const pages = `http://127.0.0.1:${ports.gateway?.PROXY_PORT}`;
      return {
        LOGIN_URL: `${pages}/login`,
        CONSENT_URL: `${pages}/consent`,
        LOGOUT_URL: `${pages}/logout`,
        POST_LOGOUT_REDIRECT_URL: `${pages}/logout/done`,
      };
    },
    // Nothing else registers the app: without its client no one can sign in.
    onReady: async (ports) => {
      const outcome = await registerAppClient(`http://127.0.0.1:${ports['auth-server']?.ADMIN_PORT}`);
      return `OAuth2 client ${APP_CLIENT.client_id} (the mobile app): ${outcome}`;
    },
  },
  {
    name: 'user-service',
    entry: 'user-service/dist/main.js',
    after: ['auth-server'],
    listeners: [{ variable: 'PORT', port: 3010, role: 'internal', scheme: 'http', ops: true }],
    links: (ports, secrets) => ({
      HYDRA_ADMIN_URL: `http://127.0.0.1:${ports['auth-server']?.ADMIN_PORT}`,
      OAUTH2_PUBLIC_URL: `http://127.0.0.1:${ports['auth-server']?.PUBLIC_PORT}`,
      CSP_FORM_ACTION_EXTRA: APP_REDIRECT_SOURCES,
      // Browsers reach the pages through the gateway, so without this every login would count
      // against the gateway's address: 20 failures from anyone would lock everyone out. The gateway
      // drops the client's X-Forwarded-For and writes the address it saw, the entry user-service
      // reads. Only local processes can reach user-service around the gateway (loopback only).
      CLIENT_ADDRESS_HEADER: 'x-forwarded-for',
      HIBP_URL: `http://127.0.0.1:${ports['hibp-service']?.PORT}`,
      DEVICE_SERVICE_URL: `http://127.0.0.1:${ports['device-service']?.PORT}`,
      DEVICE_SERVICE_TOKEN: secrets.get('device-service-internal-token'),
      ...accessProxyIdentity(ports),
    }),
  },
  {
    name: 'cert-service',
    entry: 'cert-service/dist/main.js',
    listeners: [{ variable: 'PORT', port: 3030, role: 'internal', scheme: 'http', ops: true }],
    links: (ports, secrets, dataDir) => ({
      INTERNAL_API_TOKEN: secrets.get('cert-service-internal-token'),
      // Certificate renewal notices go to devices through the broker; cert-service starts first
      // and connects once the broker is up (mqtt.js reconnects).
      MQTT_URL: `wss://localhost:${ports.broker?.WSS_PORT}/mqtt`,
      MQTT_CA_FILE: join(dataDir, 'broker', 'tls', 'server.crt'),
      MQTT_SERVICE_SECRET: secrets.get('cert-service-mqtt-secret'),
      OAUTH2_INTROSPECTION_URL: `http://127.0.0.1:${ports['auth-server']?.ADMIN_PORT}/admin/oauth2/introspect`,
      BROKER_ADMIN_URL: `http://127.0.0.1:${ports.broker?.HTTP_PORT}`,
      // The broker here can be told to forget at once (docs/broker.md), so it may reuse answers.
      WEBHOOK_CACHE_MAX_AGE_S: '30',
      BROKER_ADMIN_TOKEN: secrets.get('broker-admin-token'),
    }),
  },
  {
    name: 'device-service',
    entry: 'device-service/dist/main.js',
    listeners: [
      { variable: 'PORT', port: 3020, role: 'internal', scheme: 'http', ops: true },
      {
        variable: 'FIRMWARE_DOWNLOAD_PORT',
        port: 3021,
        role: 'firmware downloads (mTLS, devices)',
        scheme: 'https',
      },
    ],
    after: ['cert-service', 'broker', 'gateway'],
    links: (ports, secrets, dataDir) => {
      return {
        CERT_SERVICE_URL: `http://127.0.0.1:${ports['cert-service']?.PORT}`,
        CERT_SERVICE_TOKEN: secrets.get('cert-service-internal-token'),
        ...accessProxyIdentity(ports),
        // Commands and event ingestion go through the broker like any client's.
        MQTT_URL: `wss://localhost:${ports.broker?.WSS_PORT}/mqtt`,
        MQTT_CA_FILE: join(dataDir, 'broker', 'tls', 'server.crt'),
        MQTT_SERVICE_SECRET: secrets.get('device-service-mqtt-secret'),
        INTERNAL_API_TOKEN: secrets.get('device-service-internal-token'),
      };
    },
  },
  {
    name: 'broker',
    entry: 'broker/dist/main.js',
    after: ['cert-service'],
    listeners: [
      { variable: 'HTTP_PORT', port: 3050, role: 'internal', scheme: 'http', ops: true },
      { variable: 'MQTTS_PORT', port: 8883, role: 'MQTT over mTLS (devices)', scheme: 'mqtts' },
      { variable: 'WSS_PORT', port: 8884, role: 'MQTT over WSS (app)', scheme: 'wss' },
    ],
    links: (ports, secrets) => {
      const certService = `http://127.0.0.1:${ports['cert-service']?.PORT}`;
      return {
        DEVICE_CA_URL: `${certService}/v1/pki/ca`,
        DEVICE_CRL_URL: `${certService}/v1/pki/crl.pem`,
        WEBHOOK_URL: `${certService}/webhooks/vernemq`,
        ADMIN_TOKEN: secrets.get('broker-admin-token'),
      };
    },
  },
  {
    name: 'gateway',
    entry: 'gateway/dist/main.js',
    listeners: [
      { variable: 'PROXY_PORT', port: 4455, role: 'public API', scheme: 'http' },
      { variable: 'API_PORT', port: 4456, role: 'internal', scheme: 'http', ops: true },
      { variable: 'ADMIN_PROXY_PORT', port: 4457, role: 'admin API', scheme: 'http' },
    ],
    // The rule files name their upstreams at the default ports of this table.
    links: (ports) => ({
      ADMIN_RULES_PATH: 'oathkeeper-admin-rules.json',
      INTROSPECTION_URL: `http://127.0.0.1:${ports['auth-server']?.ADMIN_PORT}/admin/oauth2/introspect`,
      ID_TOKEN_ISSUER_URL: `http://127.0.0.1:${ports.gateway?.API_PORT}/`,
    }),
  },
];

/** `user-service` + `PORT` → `USER_SERVICE_PORT`: the stack-level variable that overrides a port. */
export function overrideVariable(service: string, variable: string): string {
  return `${service}_${variable}`.toUpperCase().replace(/-/g, '_');
}

/** Resolves every port from its default and the stack-level override, refusing bad values. */
export function resolvePorts(env: NodeJS.ProcessEnv, stack: StackService[] = STACK): PortMap {
  const ports: PortMap = {};
  const problems: string[] = [];
  for (const service of stack) {
    const own: Record<string, number> = {};
    for (const listener of service.listeners) {
      const name = overrideVariable(service.name, listener.variable);
      const raw = env[name];
      if (raw === undefined || raw === '') {
        own[listener.variable] = listener.port;
      } else if (/^\d{1,5}$/.test(raw) && Number(raw) >= 1 && Number(raw) <= 65535) {
        own[listener.variable] = Number(raw);
      } else {
        problems.push(`${name} is invalid: expected a TCP port, an integer from 1 to 65535`);
      }
    }
    ports[service.name] = own;
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  return ports;
}
