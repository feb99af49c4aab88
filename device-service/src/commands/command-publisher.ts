import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { CommandNotDelivered } from '../errors.js';
import type { DeviceSettings } from '../devices/models.js';

/** What a device receives on `devices/{id}/commands` (docs/protocol.md). */
export interface SettingsCommand {
  commandId: string;
  type: 'settings';
  settings: DeviceSettings;
  issuedAt: string;
}

/** Sends commands to devices; answers once the broker has taken the command (QoS 1). */
export interface CommandPublisher {
  sendSettings(deviceId: string, settings: DeviceSettings): Promise<SettingsCommand>;
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
    this.client = mqtt.connect(options.url, {
      // Users and services connect as `<username>:<anything>` (docs/protocol.md, identities).
      clientId: `${options.serviceId}:commands:${randomUUID().slice(0, 8)}`,
      username: options.serviceId,
      password: options.secret,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: options.timeoutMs,
      ...(options.caFile ? { ca: readFileSync(options.caFile) } : {}),
    });
    // Errors surface per command; a connection error here must not end the process.
    this.client.on('error', () => undefined);
  }

  async sendSettings(deviceId: string, settings: DeviceSettings): Promise<SettingsCommand> {
    const command: SettingsCommand = {
      commandId: randomUUID(),
      type: 'settings',
      settings,
      issuedAt: new Date().toISOString(),
    };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error('broker did not acknowledge in time')),
        this.options.timeoutMs,
      );
    });
    try {
      await Promise.race([
        this.client.publishAsync(`devices/${deviceId}/commands`, JSON.stringify(command), { qos: 1 }),
        deadline,
      ]);
    } catch {
      throw new CommandNotDelivered();
    } finally {
      clearTimeout(timer);
    }
    return command;
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }

  /** Nest calls this on shutdown. */
  onApplicationShutdown(): Promise<void> {
    return this.close();
  }
}
