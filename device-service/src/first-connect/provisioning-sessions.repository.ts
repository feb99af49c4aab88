import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

export interface ProvisioningSession {
  tokenHash: Buffer;
  issuedAt: Date;
  expiresAt: Date;
  connectedAt: Date | null;
}

interface SessionRow {
  device_id: string;
  token_hash: Buffer;
  issued_at: Date;
  expires_at: Date;
  connected_at: Date | null;
}

const toSession = (row: SessionRow): ProvisioningSession => ({
  tokenHash: row.token_hash,
  issuedAt: row.issued_at,
  expiresAt: row.expires_at,
  connectedAt: row.connected_at,
});

/** The only code that reads or writes first-connect provisioning sessions. */
@Injectable()
export class ProvisioningSessionsRepository {
  constructor(private readonly db: DataSource) {}

  /** Starts the device's session, replacing any earlier one: only the newest token is live. */
  async replace(session: {
    deviceId: string;
    tokenHash: Buffer;
    issuedBy: string;
    issuedAt: Date;
    expiresAt: Date;
  }): Promise<void> {
    await this.db.query(
      `INSERT INTO provisioning_sessions (device_id, token_hash, issued_by, issued_at, expires_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (device_id) DO UPDATE SET token_hash = EXCLUDED.token_hash,
         issued_by = EXCLUDED.issued_by, issued_at = EXCLUDED.issued_at,
         expires_at = EXCLUDED.expires_at, connected_at = NULL`,
      [session.deviceId, session.tokenHash, session.issuedBy, session.issuedAt, session.expiresAt],
    );
  }

  async find(deviceId: string): Promise<ProvisioningSession | null> {
    const rows: SessionRow[] = await this.db.query(
      `SELECT device_id, token_hash, issued_at, expires_at, connected_at
       FROM provisioning_sessions WHERE device_id = $1`,
      [deviceId],
    );
    return rows[0] ? toSession(rows[0]) : null;
  }

  /** The sessions of these devices, locked until the ingesting transaction decides on them. */
  async lockForDevices(
    deviceIds: readonly string[],
    manager: EntityManager,
  ): Promise<Map<string, ProvisioningSession>> {
    const rows: SessionRow[] = await manager.query(
      `SELECT device_id, token_hash, issued_at, expires_at, connected_at
       FROM provisioning_sessions WHERE device_id = ANY($1::text[])
       ORDER BY device_id FOR UPDATE`,
      [deviceIds],
    );
    return new Map(rows.map((row) => [row.device_id, toSession(row)]));
  }

  async markConnected(
    connections: readonly { deviceId: string; at: Date }[],
    manager: EntityManager,
  ): Promise<void> {
    if (connections.length === 0) return;
    await manager.query(
      `UPDATE provisioning_sessions p SET connected_at = c.at
       FROM jsonb_to_recordset($1::jsonb) AS c(device_id text, at timestamptz)
       WHERE p.device_id = c.device_id AND p.connected_at IS NULL`,
      [JSON.stringify(connections.map((c) => ({ device_id: c.deviceId, at: c.at.toISOString() })))],
    );
  }

  /** The device was released: whatever its previous owner started ends with it. */
  async clear(deviceId: string, manager: EntityManager): Promise<void> {
    await manager.query('DELETE FROM provisioning_sessions WHERE device_id = $1', [deviceId]);
  }
}
