import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { requireAccess } from '../access/require-access.js';
import { AccessRepository } from '../access/access.repository.js';
import { Permission } from '../access/permission.js';
import { AuditRepository } from '../audit/audit.repository.js';
import { CERT_SERVICE_CLIENT, type CertServiceClient } from '../cert-service/cert-service.client.js';
import type { DeviceServiceConfig } from '../config.js';
import { DevicesRepository, type DeviceView } from '../devices/devices.repository.js';
import { AlreadyClaimed, ClaimLockedOut, ClaimRefused } from '../errors.js';
import { ProvisioningSessionsRepository } from '../first-connect/provisioning-sessions.repository.js';
import { GrantsRepository } from '../grants/grants.repository.js';
import type { Caller } from '../identity/caller.js';
import { claimLabelSvg } from '../provisioning/claim-label.js';
import { newClaimCode, normalizeClaimCode, SecretHasher } from '../secrets/secrets.js';
import { ClaimAttemptsRepository, type AttemptSubject } from './claim-attempts.repository.js';
import type { ClaimRequest } from './claims.dto.js';
import { lockoutSeconds, retryAfterSeconds, type LockoutPolicy } from '@spincycle/common';

/** Claiming a machine with the code on its label, and giving it up again. */
@Injectable()
export class ClaimsService {
  private readonly policy: LockoutPolicy;

  constructor(
    private readonly devices: DevicesRepository,
    private readonly attempts: ClaimAttemptsRepository,
    private readonly grants: GrantsRepository,
    private readonly audit: AuditRepository,
    private readonly access: AccessRepository,
    private readonly hasher: SecretHasher,
    private readonly provisioningSessions: ProvisioningSessionsRepository,
    @Inject(CERT_SERVICE_CLIENT) private readonly certService: CertServiceClient,
    config: ConfigService<DeviceServiceConfig, true>,
  ) {
    this.policy = {
      attemptsBeforeLockout: config.get('CLAIM_ATTEMPTS_BEFORE_LOCKOUT', { infer: true }),
      baseSeconds: config.get('CLAIM_LOCKOUT_BASE_SECONDS', { infer: true }),
      maxSeconds: config.get('CLAIM_LOCKOUT_MAX_SECONDS', { infer: true }),
    };
  }

  /**
   * The code is single-use (spent on success), compared in constant time, and wrong codes count
   * against both the device and the user, each locked out with exponential back-off. An unknown
   * serial is answered like a wrong code, so serials cannot be probed.
   */
  async claim(caller: Caller, request: ClaimRequest, now = new Date()): Promise<DeviceView> {
    const user: AttemptSubject = { kind: 'user', id: caller.id };
    const found = await this.devices.findBySerial(request.serial);
    const subjects: AttemptSubject[] = found ? [user, { kind: 'device', id: found.id }] : [user];
    const lockedUntil = await this.attempts.lockedUntil(subjects, now);
    if (lockedUntil) throw new ClaimLockedOut(retryAfterSeconds(lockedUntil, now));
    if (found?.ownerId) throw new AlreadyClaimed();

    const code = normalizeClaimCode(request.claimCode);
    if (!found || !this.hasher.matches('claim-code', code, found.claimCodeHash)) {
      for (const subject of subjects) {
        await this.attempts.recordFailure(subject, now, (failures) => lockoutSeconds(failures, this.policy));
      }
      throw new ClaimRefused();
    }

    await this.devices.transaction(async (manager) => {
      // A concurrent claim with the same code may have won between the check and here.
      const locked = await this.devices.lockClaimState(found.id, manager);
      if (
        !locked ||
        locked.ownerId !== null ||
        !this.hasher.matches('claim-code', code, locked.claimCodeHash)
      ) {
        throw new AlreadyClaimed();
      }
      await this.devices.claim(found.id, caller.id, manager);
      await this.attempts.clear(subjects, manager);
      await this.audit.append(
        [{ deviceId: found.id, actorId: caller.id, action: 'device.claimed' }],
        manager,
      );
      await this.certService.putDevice(found.id, { status: 'active', ownerId: caller.id });
    });
    return (await this.devices.find(found.id)) as DeviceView;
  }

  /**
   * Gives the device up: its grants end, its certificate is revoked, its last state and any
   * provisioning session are forgotten, and a fresh claim code replaces the spent one. The new
   * code and its label are shown to the releasing owner once, to hand to whoever claims the
   * machine next.
   */
  async release(
    caller: Caller,
    deviceId: string,
  ): Promise<{ serial: string; claimCode: string; labelSvg: string }> {
    await requireAccess(this.access, { caller, permission: Permission.DeviceRelease, ids: [deviceId] });
    const { serial, claimCode } = await this.releaseDevice(caller.id, deviceId);
    return { serial, claimCode, labelSvg: await claimLabelSvg(serial, claimCode) };
  }

  /**
   * An account was deleted: every device it owned is released (its new claim code shown to
   * nobody: whoever gets the machine next has it reset at a service centre), and every grant it
   * held as a technician ends.
   */
  async releaseAccount(userId: string): Promise<{ releasedDevices: number; revokedGrants: number }> {
    const owned = await this.devices.listOwnedBy(userId);
    for (const device of owned) await this.releaseDevice(userId, device.id);
    const held = await this.grants.transaction(async (manager) => {
      const ended = await this.grants.revokeAllHeldBy(userId, manager);
      await this.audit.append(
        ended.map((g) => ({
          deviceId: g.deviceId,
          actorId: userId,
          action: 'grant.revoked' as const,
          grantId: g.id,
          detail: { reason: 'account deleted' },
        })),
        manager,
      );
      for (const g of ended) await this.certService.putGrant(g.id, { ...g, revoked: true });
      return ended;
    });
    return { releasedDevices: owned.length, revokedGrants: held.length };
  }

  private async releaseDevice(
    actorId: string,
    deviceId: string,
  ): Promise<{ serial: string; claimCode: string }> {
    const claimCode = newClaimCode();
    const serial = await this.devices.transaction(async (manager) => {
      const ended = await this.grants.revokeAllForDevice(deviceId, manager);
      await this.devices.release(
        deviceId,
        this.hasher.hash('claim-code', normalizeClaimCode(claimCode)),
        manager,
      );
      await this.provisioningSessions.clear(deviceId, manager);
      await this.audit.append(
        [
          ...ended.map((g) => ({ deviceId, actorId, action: 'grant.revoked' as const, grantId: g.id })),
          { deviceId, actorId, action: 'device.released' as const },
        ],
        manager,
      );
      for (const g of ended) await this.certService.putGrant(g.id, { ...g, revoked: true });
      await this.certService.putDevice(deviceId, { status: 'active', ownerId: null });
      await this.certService.revokeCertificates(deviceId, 'unclaimed');
      return (await this.devices.find(deviceId, manager))?.serial ?? '';
    });
    return { serial, claimCode };
  }
}
