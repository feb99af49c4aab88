import { connectAsService } from '@spincycle/common';
import type { MqttClient } from 'mqtt';

export interface OtaPublisherOptions {
  url: string;
  caFile: string | undefined;
  serviceId: string;
  secret: string;
}

/**
 * cert-service's own MQTT connection, as its service identity, for messages to devices' `ota`
 * topics.
 */
export class OtaPublisher {
  private readonly client: MqttClient;

  constructor(options: OtaPublisherOptions) {
    this.client = connectAsService({ ...options, purpose: 'renewal-notices' });
  }

  /** Resolves once the broker acknowledged the message (QoS 1). */
  async publish(deviceId: string, message: object): Promise<void> {
    await this.client.publishAsync(`devices/${deviceId}/ota`, JSON.stringify(message), { qos: 1 });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
