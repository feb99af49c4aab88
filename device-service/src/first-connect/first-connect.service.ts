import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { AccessRepository } from '../access/access.repository.js';
import { Permission } from '../access/permission.js';
import { requireAccess } from '../access/require-access.js';
import type { DeviceServiceConfig } from '../config.js';
import type { Caller } from '../identity/caller.js';
import { newMachineSecret, SecretHasher } from '../secrets/secrets.js';
import { provisioningStatus, type ProvisioningStatus } from './first-connect-token.js';
import { ProvisioningSessionsRepository } from './provisioning-sessions.repository.js';

/**
 * The app hands the Wi-Fi credentials to the machine directly; the backend never sees them. What
 * it gives the app is a short-lived token for the machine to present on its first connect, so
 * the app can tell the owner the machine came online.
 */
@Injectable()
export class FirstConnectService {
  private readonly ttlMs: number;

  constructor(
    private readonly sessions: ProvisioningSessionsRepository,
    private readonly access: AccessRepository,
    private readonly hasher: SecretHasher,
    @Inject(ConfigService) config: ConfigService<DeviceServiceConfig, true>,
  ) {
    this.ttlMs = config.get('PROVISIONING_TOKEN_TTL_SECONDS', { infer: true }) * 1000;
  }

  /** A new token, shown once; it replaces any earlier one of the device, connected or not. */
  async issue(
    caller: Caller,
    deviceId: string,
    now = new Date(),
  ): Promise<{ token: string; expiresAt: Date }> {
    await requireAccess(this.access, {
      caller,
      permission: Permission.DeviceProvision,
      ids: [deviceId],
      now,
    });
    const token = newMachineSecret();
    const expiresAt = new Date(now.getTime() + this.ttlMs);
    await this.sessions.replace({
      deviceId,
      tokenHash: this.hasher.hash('provisioning-token', token),
      issuedBy: caller.id,
      issuedAt: now,
      expiresAt,
    });
    return { token, expiresAt };
  }

  async status(caller: Caller, deviceId: string, now = new Date()): Promise<ProvisioningStatus> {
    await requireAccess(this.access, {
      caller,
      permission: Permission.DeviceProvision,
      ids: [deviceId],
      now,
    });
    return provisioningStatus(await this.sessions.find(deviceId), now);
  }
}
