import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

export interface AuditEntry {
  deviceId: string;
  actorId: string;
  action: 'device.claimed' | 'device.released' | 'grant.created' | 'grant.revoked' | 'grant.used';
  grantId?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditRecord {
  id: string;
  actorId: string;
  action: string;
  grantId: string | null;
  detail: Record<string, unknown>;
  at: Date;
}

/** The only code that reads or writes the audit log the owner reads. */
@Injectable()
export class AuditRepository {
  constructor(private readonly db: DataSource) {}

  async append(entries: readonly AuditEntry[], manager: EntityManager = this.db.manager): Promise<void> {
    if (entries.length === 0) return;
    await manager.query(
      `INSERT INTO audit_log (device_id, actor_id, action, grant_id, detail)
       SELECT e.device_id, e.actor_id, e.action, e.grant_id, e.detail
       FROM jsonb_to_recordset($1::jsonb) AS e(device_id text, actor_id text, action text, grant_id text, detail jsonb)`,
      [
        JSON.stringify(
          entries.map((e) => ({
            device_id: e.deviceId,
            actor_id: e.actorId,
            action: e.action,
            grant_id: e.grantId ?? null,
            detail: e.detail ?? {},
          })),
        ),
      ],
    );
  }

  /** The device's audit log, oldest first, in pages after a given entry id. */
  async list(deviceId: string, afterId: string | null, limit: number): Promise<AuditRecord[]> {
    const rows: {
      id: string;
      actor_id: string;
      action: string;
      grant_id: string | null;
      detail: Record<string, unknown>;
      at: Date;
    }[] = await this.db.query(
      `SELECT id::text AS id, actor_id, action, grant_id, detail, at FROM audit_log
         WHERE device_id = $1 AND ($2::bigint IS NULL OR id > $2::bigint)
         ORDER BY id LIMIT $3`,
      [deviceId, afterId, limit],
    );
    return rows.map((r) => ({
      id: r.id,
      actorId: r.actor_id,
      action: r.action,
      grantId: r.grant_id,
      detail: r.detail,
      at: r.at,
    }));
  }
}
