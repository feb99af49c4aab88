import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';

export interface OtaPublisherOptions {
  url: string;
  caFile: string | undefined;
  serviceId: string;
  secret: string;
}

/**
 * cert-service's own MQTT connection, as its service identity, for messages to devices' `ota`
 * topics. It is opened at start and kept open; mqtt.js reconnects and holds QoS 1 messages sent
 * while the broker is away until it is back.
 */
export class OtaPublisher {
  private readonly client: MqttClient;

  constructor(options: OtaPublisherOptions) {
    this.client = mqtt.connect(options.url, {
      // A service may hold several connections, each with a client id "<service id>:<anything>".
      clientId: `${options.serviceId}:renewal-notices:${randomUUID().slice(0, 8)}`,
      username: options.serviceId,
      password: options.secret,
      clean: true,
      reconnectPeriod: 1000,
      ...(options.caFile ? { ca: readFileSync(options.caFile) } : {}),
    });
    // A broker that is down or refuses us is seen per message; it must not end the process.
    this.client.on('error', () => undefined);
  }

  /** Resolves once the broker acknowledged the message (QoS 1). */
  async publish(deviceId: string, message: object): Promise<void> {
    await this.client.publishAsync(`devices/${deviceId}/ota`, JSON.stringify(message), { qos: 1 });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
