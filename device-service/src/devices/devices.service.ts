import { Inject, Injectable, Optional } from '@nestjs/common';
import { AccessRepository } from '../access/access.repository.js';
import { Permission } from '../access/permission.js';
import { requireAccess } from '../access/require-access.js';
import { CERT_SERVICE_CLIENT, type CertServiceClient } from '../cert-service/cert-service.client.js';
import { COMMAND_PUBLISHER, type CommandPublisher } from '../commands/command-publisher.js';
import { DependencyUnavailable } from '../errors.js';
import type { Caller } from '../identity/caller.js';
import { parseInput } from '../validation.js';
import { DevicesRepository, type DeviceView } from './devices.repository.js';
import { settingsSchema, type DeviceSettings } from './models.js';

/**
 * What the app shows of a device; the owner's id stays out of it. `online` is null when
 * cert-service, which learns it from the broker, cannot be asked.
 */
export type DeviceJson = Omit<DeviceView, 'ownerId'> & { online: boolean | null; lastSeenAt: Date | null };

/** The owner's (and a granted technician's) view of devices: read, rename, settings. */
@Injectable()
export class DevicesService {
  constructor(
    private readonly devices: DevicesRepository,
    private readonly access: AccessRepository,
    @Inject(CERT_SERVICE_CLIENT) private readonly certService: CertServiceClient,
    @Optional() @Inject(COMMAND_PUBLISHER) private readonly commands?: CommandPublisher,
  ) {}

  async listOwned(caller: Caller): Promise<DeviceJson[]> {
    return Promise.all((await this.devices.listOwnedBy(caller.id)).map((d) => this.toJson(d)));
  }

  async listGranted(caller: Caller, now = new Date()) {
    const granted = await this.devices.listGrantedTo(caller.id, now);
    return Promise.all(granted.map(async (d) => ({ ...(await this.toJson(d)), grant: d.grant })));
  }

  async get(caller: Caller, deviceId: string): Promise<DeviceJson> {
    await requireAccess(this.access, { caller, permission: Permission.DeviceRead, ids: [deviceId] });
    return this.toJson(await this.load(deviceId));
  }

  async rename(caller: Caller, deviceId: string, name: string): Promise<DeviceJson> {
    await requireAccess(this.access, { caller, permission: Permission.DeviceUpdate, ids: [deviceId] });
    await this.devices.rename(deviceId, name);
    return this.toJson(await this.load(deviceId));
  }

  /**
   * Settings are checked against the device's model, sent to the device as a command, and stored
   * once the broker has taken the command.
   */
  async changeSettings(caller: Caller, deviceId: string, body: unknown): Promise<DeviceSettings> {
    await requireAccess(this.access, { caller, permission: Permission.DeviceControl, ids: [deviceId] });
    const device = await this.load(deviceId);
    const settings = parseInput(settingsSchema(device.model), body);
    if (!this.commands) throw new DependencyUnavailable('sending commands to devices (MQTT_URL is unset)');
    await this.commands.sendSettings(deviceId, settings);
    await this.devices.saveSettings(deviceId, settings);
    return settings;
  }

  private async toJson({ ownerId: _ownerId, ...view }: DeviceView): Promise<DeviceJson> {
    // Connection state is a convenience: a cert-service outage must not hide the device itself.
    const connection = await this.certService.deviceConnection(view.id).catch(() => undefined);
    return { ...view, online: connection?.online ?? null, lastSeenAt: connection?.lastSeenAt ?? null };
  }

  private async load(deviceId: string): Promise<DeviceView> {
    // requireAccess has just seen the row; devices are never deleted through this API.
    return (await this.devices.find(deviceId)) as DeviceView;
  }
}
