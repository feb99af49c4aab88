import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface ServiceMqttOptions {
  url: string;
  /** PEM of the CA that signed the broker's certificate, when it is not a public one. */
  caFile?: string | undefined;
  serviceId: string;
  secret: string;
  /** Names the connection in the client id, for the broker's logs. */
  purpose: string;
  connectTimeoutMs?: number;
}

/**
 * A backend service's own MQTT connection, as its service identity: opened now and kept open
 * (mqtt.js reconnects and holds QoS 1 messages while the broker is away).
 */
export function connectAsService(options: ServiceMqttOptions): MqttClient {
  const client = mqtt.connect(options.url, {
    // A service may hold several connections, each with a client id "<service id>:<anything>".
    clientId: `${options.serviceId}:${options.purpose}:${randomUUID().slice(0, 8)}`,
    username: options.serviceId,
    password: options.secret,
    clean: true,
    reconnectPeriod: 1000,
    ...(options.connectTimeoutMs ? { connectTimeout: options.connectTimeoutMs } : {}),
    ...(options.caFile ? { ca: readFileSync(options.caFile) } : {}),
  } satisfies IClientOptions);
  // A broker that is down or refuses us shows per message; it must not end the process.
  client.on('error', () => undefined);
  return client;
}
