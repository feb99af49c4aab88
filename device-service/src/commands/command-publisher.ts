import { randomUUID } from 'node:crypto';
import { connectAsService } from '@spincycle/common';
import type { MqttClient } from 'mqtt';
import { CommandNotDelivered } from '../errors.js';
import type { DeviceSettings } from '../devices/models.js';

/** What a device receives on `devices/{id}/commands` (docs/protocol.md). */
export interface SettingsCommand {
  commandId: string;
  type: 'settings';
  settings: DeviceSettings;
  issuedAt: string;
}

/** What a device receives on `devices/{id}/ota` when a newer firmware is rolled out to it. */
export interface FirmwareOffer {
  type: 'firmware';
  firmwareId: string;
  version: string;
  url: string;
  sizeBytes: number;
  /** Hex SHA-256 of the image; the signature is Ed25519 over these 32 bytes. */
  sha256: string;
  signature: string;
  keyId: string;
  offeredAt: string;
}

/** Sends commands to devices; answers once the broker has taken the message (QoS 1). */
export interface CommandPublisher {
  sendSettings(deviceId: string, settings: DeviceSettings): Promise<SettingsCommand>;
  /**
   * Retained, so a device that is offline at rollout time finds the newest offer when it next
   * subscribes to its ota topic.
   */
  offerFirmware(deviceId: string, offer: FirmwareOffer): Promise<void>;
  close(): Promise<void>;
}

export const COMMAND_PUBLISHER = Symbol('COMMAND_PUBLISHER');

export interface MqttCommandPublisherOptions {
  url: string;
  caFile?: string | undefined;
  serviceId: string;
  secret: string;
  timeoutMs: number;
}

/**
 * Publishes commands as device-service's service identity. The connection is opened at start and
 * kept (mqtt.js reconnects); a command that the broker does not acknowledge in time is refused
 * with 502 so the caller knows the device may not have it.
 */
export class MqttCommandPublisher implements CommandPublisher {
  private readonly client: MqttClient;

  constructor(private readonly options: MqttCommandPublisherOptions) {
    this.client = connectAsService({
      ...options,
      purpose: 'commands',
      connectTimeoutMs: options.timeoutMs,
    });
  }

  async sendSettings(deviceId: string, settings: DeviceSettings): Promise<SettingsCommand> {
    const command: SettingsCommand = {
      commandId: randomUUID(),
      type: 'settings',
      settings,
      issuedAt: new Date().toISOString(),
    };
    await this.publish(`devices/${deviceId}/commands`, command, false);
    return command;
  }

  async offerFirmware(deviceId: string, offer: FirmwareOffer): Promise<void> {
    await this.publish(`devices/${deviceId}/ota`, offer, true);
  }

  private async publish(topic: string, message: object, retain: boolean): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error('broker did not acknowledge in time')),
        this.options.timeoutMs,
      );
    });
    try {
      await Promise.race([
        this.client.publishAsync(topic, JSON.stringify(message), { qos: 1, retain }),
        deadline,
      ]);
    } catch {
      throw new CommandNotDelivered();
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }

  /** Nest calls this on shutdown. */
  onApplicationShutdown(): Promise<void> {
    return this.close();
  }
}
