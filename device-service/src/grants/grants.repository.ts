import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { GrantScope } from '../access/permission.js';

export interface Grant {
  id: string;
  deviceId: string;
  ownerId: string;
  technicianId: string;
  scope: GrantScope;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

interface GrantRow {
  id: string;
  device_id: string;
  owner_id: string;
  technician_id: string;
  scope: GrantScope;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
}

const toGrant = (row: GrantRow): Grant => ({
  id: row.id,
  deviceId: row.device_id,
  ownerId: row.owner_id,
  technicianId: row.technician_id,
  scope: row.scope,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
});

/** The only code that reads or writes grants. */
@Injectable()
export class GrantsRepository {
  constructor(private readonly db: DataSource) {}

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  async insert(grant: Omit<Grant, 'createdAt' | 'revokedAt'>, manager: EntityManager): Promise<Grant> {
    const rows: GrantRow[] = await manager.query(
      `INSERT INTO grants (id, device_id, owner_id, technician_id, scope, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
      [grant.id, grant.deviceId, grant.ownerId, grant.technicianId, grant.scope, grant.expiresAt],
    );
    return toGrant(rows[0] as GrantRow);
  }

  async listForDevice(deviceId: string): Promise<Grant[]> {
    const rows: GrantRow[] = await this.db.query(
      'SELECT * FROM grants WHERE device_id = $1 ORDER BY created_at, id',
      [deviceId],
    );
    return rows.map(toGrant);
  }

  /** Revokes one grant of the device if still unrevoked; answers it, or null. */
  async revoke(deviceId: string, grantId: string, manager: EntityManager): Promise<Grant | null> {
    // TypeORM answers an UPDATE with [rows, affected count].
    const [rows]: [GrantRow[], number] = await manager.query(
      `UPDATE grants SET revoked_at = now() WHERE id = $1 AND device_id = $2 AND revoked_at IS NULL RETURNING *`,
      [grantId, deviceId],
    );
    return rows[0] ? toGrant(rows[0]) : null;
  }

  /** Revokes every unrevoked grant of the device (release); answers those it revoked. */
  revokeAllForDevice(deviceId: string, manager: EntityManager): Promise<Grant[]> {
    return this.revokeAllWhere('device_id', deviceId, manager);
  }

  /** Revokes every unrevoked grant the technician holds (account deletion); answers those it revoked. */
  revokeAllHeldBy(technicianId: string, manager: EntityManager): Promise<Grant[]> {
    return this.revokeAllWhere('technician_id', technicianId, manager);
  }

  private async revokeAllWhere(
    column: 'device_id' | 'technician_id',
    value: string,
    manager: EntityManager,
  ): Promise<Grant[]> {
    const [rows]: [GrantRow[], number] = await manager.query(
      `UPDATE grants SET revoked_at = now() WHERE ${column} = $1 AND revoked_at IS NULL RETURNING *`,
      [value],
    );
    return rows.map(toGrant);
  }
}
