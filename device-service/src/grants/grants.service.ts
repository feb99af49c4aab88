import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { AccessRepository } from '../access/access.repository.js';
import { Permission } from '../access/permission.js';
import { requireAccess } from '../access/require-access.js';
import { AuditRepository, type AuditRecord } from '../audit/audit.repository.js';
import { CERT_SERVICE_CLIENT, type CertServiceClient } from '../cert-service/cert-service.client.js';
import { DependencyUnavailable, GrantNotFound, InvalidInput, TechnicianNotFound } from '../errors.js';
import type { Caller } from '../identity/caller.js';
import { USER_DIRECTORY, type UserDirectory } from '../users/user-directory.js';
import { grantExpiry } from './grant-period.js';
import type { GrantRequest } from './grants.dto.js';
import { GrantsRepository, type Grant } from './grants.repository.js';

/** Technician access an owner gives, bounded in time, revocable, and written to the audit log. */
@Injectable()
export class GrantsService {
  constructor(
    private readonly grants: GrantsRepository,
    private readonly audit: AuditRepository,
    private readonly access: AccessRepository,
    @Inject(CERT_SERVICE_CLIENT) private readonly certService: CertServiceClient,
    @Optional() @Inject(USER_DIRECTORY) private readonly users?: UserDirectory,
  ) {}

  async grant(caller: Caller, deviceId: string, request: GrantRequest, now = new Date()): Promise<Grant> {
    await requireAccess(this.access, { caller, permission: Permission.DeviceShare, ids: [deviceId] });
    const period = grantExpiry(request.expiresAt, now);
    if ('problem' in period) throw new InvalidInput([period.problem]);
    if (!this.users) throw new DependencyUnavailable('account directory');
    const technician = await this.users.findByEmail(request.email);
    if (!technician?.roles.includes('technician')) throw new TechnicianNotFound();
    if (technician.id === caller.id) throw new InvalidInput(['email: is your own account']);

    return this.grants.transaction(async (manager) => {
      const grant = await this.grants.insert(
        {
          id: randomUUID(),
          deviceId,
          ownerId: caller.id,
          technicianId: technician.id,
          scope: request.scope,
          expiresAt: period.expiresAt,
        },
        manager,
      );
      await this.audit.append(
        [
          {
            deviceId,
            actorId: caller.id,
            action: 'grant.created',
            grantId: grant.id,
            detail: {
              technicianId: grant.technicianId,
              scope: grant.scope,
              expiresAt: grant.expiresAt.toISOString(),
            },
          },
        ],
        manager,
      );
      await this.certService.putGrant(grant.id, { ...grant, revoked: false });
      return grant;
    });
  }

  async list(caller: Caller, deviceId: string): Promise<Grant[]> {
    await requireAccess(this.access, { caller, permission: Permission.DeviceShare, ids: [deviceId] });
    return this.grants.listForDevice(deviceId);
  }

  async revoke(caller: Caller, deviceId: string, grantId: string): Promise<Grant> {
    await requireAccess(this.access, { caller, permission: Permission.DeviceShare, ids: [deviceId] });
    return this.grants.transaction(async (manager) => {
      const grant = await this.grants.revoke(deviceId, grantId, manager);
      if (!grant) throw new GrantNotFound();
      await this.audit.append([{ deviceId, actorId: caller.id, action: 'grant.revoked', grantId }], manager);
      await this.certService.putGrant(grant.id, { ...grant, revoked: true });
      return grant;
    });
  }

  async auditLog(
    caller: Caller,
    deviceId: string,
    afterId: string | null,
    limit: number,
  ): Promise<AuditRecord[]> {
    await requireAccess(this.access, { caller, permission: Permission.DeviceShare, ids: [deviceId] });
    return this.audit.list(deviceId, afterId, limit);
  }
}
