import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditRepository } from '../audit/audit.repository.js';
import type { DeviceAccessFacts, GrantScope } from './permission.js';

interface FactsRow {
  id: string;
  owner_id: string | null;
  grants: {
    id: string;
    technicianId: string;
    scope: GrantScope;
    expiresAt: string;
    revokedAt: string | null;
  }[];
}

/** The only code that reads the facts device access rests on: owners and the caller's grants. */
@Injectable()
export class AccessRepository {
  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditRepository,
  ) {}

  /** The facts for each of these devices that exists, with the caller's grants on it, in one query. */
  async loadFacts(
    callerId: string,
    deviceIds: readonly string[],
    manager: EntityManager = this.db.manager,
  ): Promise<Map<string, DeviceAccessFacts>> {
    const rows: FactsRow[] = await manager.query(
      `SELECT d.id, d.owner_id,
         COALESCE(json_agg(json_build_object('id', g.id, 'technicianId', g.technician_id, 'scope', g.scope,
           'expiresAt', g.expires_at, 'revokedAt', g.revoked_at)) FILTER (WHERE g.id IS NOT NULL), '[]') AS grants
       FROM devices d
       LEFT JOIN grants g ON g.device_id = d.id AND g.technician_id = $1
       WHERE d.id = ANY($2::text[])
       GROUP BY d.id, d.owner_id`,
      [callerId, deviceIds],
    );
    return new Map(
      rows.map((row) => [
        row.id,
        {
          ownerId: row.owner_id,
          grants: row.grants.map((g) => ({
            id: g.id,
            technicianId: g.technicianId,
            scope: g.scope,
            expiresAt: new Date(g.expiresAt),
            revokedAt: g.revokedAt === null ? null : new Date(g.revokedAt),
          })),
        },
      ]),
    );
  }

  /** A technician acted on a device under a grant: the owner sees it in the audit log. */
  async recordGrantUse(
    uses: readonly { deviceId: string; grantId: string; actorId: string; permission: string }[],
  ): Promise<void> {
    await this.audit.append(
      uses.map((u) => ({
        deviceId: u.deviceId,
        actorId: u.actorId,
        action: 'grant.used' as const,
        grantId: u.grantId,
        detail: { permission: u.permission },
      })),
    );
  }
}
