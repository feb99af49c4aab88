import { Injectable } from '@nestjs/common';
import DataLoader from 'dataloader';
import { DataSource } from 'typeorm';
import type {
  DeviceFacts,
  DeviceStatus,
  GrantFacts,
  GrantScope,
  ServicePermission,
} from '../acl/topic-acl.js';

/** What is known about a username, for a publish or subscribe decision about one device. */
export interface AccessRecord {
  /** The username's own device record, when the username is a device id. */
  actorDevice: { status: DeviceStatus } | null;
  /** The username's permissions when it is a registered service, else null. */
  actorService: ServicePermission[] | null;
  device: DeviceFacts | null;
  grants: GrantFacts[];
}

export interface RegistrationRecord {
  device: { status: DeviceStatus; mqttPasswordHash: Buffer } | null;
  service: { secretHash: Buffer; permissions: ServicePermission[] } | null;
}

export interface DeviceWrite {
  id: string;
  status: DeviceStatus;
  ownerId: string | null;
  mqttPasswordHash: Buffer | null;
  enrolmentSecretHash: Buffer | null;
}

export interface GrantWrite {
  id: string;
  technicianId: string;
  deviceId: string;
  scope: GrantScope;
  expiresAt: Date;
  revoked: boolean;
}

export interface DeviceView {
  id: string;
  status: DeviceStatus;
  ownerId: string | null;
  online: boolean;
  lastSeenAt: Date | null;
  enrolmentPending: boolean;
}

interface AccessRow {
  actor_device: { status: DeviceStatus } | null;
  actor_service: ServicePermission[] | null;
  device: { status: DeviceStatus; ownerId: string | null } | null;
  grants: { scope: GrantScope; expiresAt: string; revoked: boolean }[];
}

interface DeviceRow {
  id: string;
  status: DeviceStatus;
  owner_id: string | null;
  online: boolean;
  last_seen_at: Date | null;
  enrolment_pending: boolean;
}

interface AccessKey {
  username: string;
  deviceId: string;
}

const BATCHING = {
  // Every lookup reads the database: a decision may only rest on facts read after it was asked.
  cache: false,
  // One statement per turn of the event loop, not per microtask checkpoint (the default), which
  // would batch only the lookups of a single request.
  batchScheduleFn: (send: () => void) => setImmediate(send),
  maxBatchSize: 500,
} as const;

/**
 * The batch's rows in the order of its keys (each row carries its key's ordinal, from 1). A key
 * without its row fails alone, which refuses that request (fail closed) and no other.
 */
function inOrder<R extends { i: string }, T>(
  count: number,
  rows: R[],
  what: string,
  build: (row: R, index: number) => T,
): (T | Error)[] {
  const byOrdinal = new Map(rows.map((row) => [Number(row.i), row]));
  return Array.from({ length: count }, (_, index) => {
    const row = byOrdinal.get(index + 1);
    return row === undefined ? new Error(`${what} query returned no row`) : build(row, index);
  });
}

const DEVICE_VIEW_COLUMNS =
  'id, status, owner_id, online, last_seen_at, enrolment_secret_hash IS NOT NULL AS enrolment_pending';

const toView = (row: DeviceRow): DeviceView => ({
  id: row.id,
  status: row.status,
  ownerId: row.owner_id,
  online: row.online,
  lastSeenAt: row.last_seen_at,
  enrolmentPending: row.enrolment_pending,
});

/** The only code that reads or writes the authorization facts. */
@Injectable()
export class FactsRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Lookups that arrive in one turn of the event loop go to PostgreSQL as one statement. A fleet
   * reconnecting at once (after a broker restart, a power cut) asks thousands of these within a
   * second; one query each queued them behind the pool's few connections, and every round trip on
   * a busy machine waits for its processes to be scheduled, so the last devices waited seconds,
   * past the broker's webhook timeout. A batch is sent once the turn ends: a lookup never joins
   * one already on its way, and so never reads facts older than its own request.
   */
  private readonly accessLoader = new DataLoader<AccessKey, AccessRecord>(
    (keys) => this.loadAccessBatch(keys),
    BATCHING,
  );

  private readonly registrationLoader = new DataLoader<string, RegistrationRecord>(
    (usernames) => this.loadRegistrationBatch(usernames),
    BATCHING,
  );

  /** Everything one publish or subscribe decision needs. */
  loadAccess(username: string, deviceId: string): Promise<AccessRecord> {
    return this.accessLoader.load({ username, deviceId });
  }

  loadRegistration(username: string): Promise<RegistrationRecord> {
    return this.registrationLoader.load(username);
  }

  private async loadAccessBatch(keys: readonly AccessKey[]): Promise<(AccessRecord | Error)[]> {
    const rows: (AccessRow & { i: string })[] = await this.db.query(
      `SELECT q.i,
         (SELECT json_build_object('status', status) FROM devices WHERE id = q.username) AS actor_device,
         (SELECT permissions FROM service_credentials WHERE id = q.username) AS actor_service,
         (SELECT json_build_object('status', status, 'ownerId', owner_id) FROM devices WHERE id = q.device_id) AS device,
         COALESCE((SELECT json_agg(json_build_object('scope', scope, 'expiresAt', expires_at, 'revoked', revoked))
                   FROM technician_grants WHERE technician_id = q.username AND device_id = q.device_id),
                  '[]'::json) AS grants
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(username, device_id, i)`,
      [keys.map((k) => k.username), keys.map((k) => k.deviceId)],
    );
    return inOrder(keys.length, rows, 'access', (row, i) => ({
      actorDevice: row.actor_device,
      actorService: row.actor_service,
      device: row.device ? { id: keys[i]!.deviceId, ...row.device } : null,
      grants: row.grants.map((g) => ({
        scope: g.scope,
        expiresAt: new Date(g.expiresAt),
        revoked: g.revoked,
      })),
    }));
  }

  private async loadRegistrationBatch(usernames: readonly string[]): Promise<(RegistrationRecord | Error)[]> {
    const rows: {
      i: string;
      device_status: DeviceStatus | null;
      mqtt_password_hash: Buffer | null;
      service_secret_hash: Buffer | null;
      service_permissions: ServicePermission[] | null;
    }[] = await this.db.query(
      `SELECT q.i, d.status AS device_status, d.mqtt_password_hash,
              s.secret_hash AS service_secret_hash, s.permissions AS service_permissions
       FROM unnest($1::text[]) WITH ORDINALITY AS q(username, i)
       LEFT JOIN devices d ON d.id = q.username
       LEFT JOIN service_credentials s ON s.id = q.username`,
      [usernames],
    );
    return inOrder(usernames.length, rows, 'registration', (row) => ({
      device:
        row.device_status !== null && row.mqtt_password_hash !== null
          ? { status: row.device_status, mqttPasswordHash: row.mqtt_password_hash }
          : null,
      service:
        row.service_secret_hash !== null
          ? { secretHash: row.service_secret_hash, permissions: row.service_permissions ?? [] }
          : null,
    }));
  }

  async findDevice(id: string): Promise<DeviceView | null> {
    const rows: DeviceRow[] = await this.db.query(
      `SELECT ${DEVICE_VIEW_COLUMNS} FROM devices WHERE id = $1`,
      [id],
    );
    return rows[0] ? toView(rows[0]) : null;
  }

  /** Creates or replaces a device's facts; secrets given as null keep what is stored. */
  async upsertDevice(write: DeviceWrite): Promise<DeviceView | null> {
    const params = [write.id, write.status, write.ownerId, write.mqttPasswordHash, write.enrolmentSecretHash];
    const [updated]: [DeviceRow[], number] = await this.db.query(
      `UPDATE devices SET status = $2, owner_id = $3,
         mqtt_password_hash = COALESCE($4, mqtt_password_hash),
         enrolment_secret_hash = COALESCE($5, enrolment_secret_hash),
         updated_at = now()
       WHERE id = $1 RETURNING ${DEVICE_VIEW_COLUMNS}`,
      params,
    );
    if (updated[0]) return toView(updated[0]);
    // A new device cannot exist without the MQTT password it will connect with.
    if (write.mqttPasswordHash === null) return null;
    const inserted: DeviceRow[] = await this.db.query(
      `INSERT INTO devices (id, status, owner_id, mqtt_password_hash, enrolment_secret_hash)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, owner_id = EXCLUDED.owner_id,
         mqtt_password_hash = EXCLUDED.mqtt_password_hash,
         enrolment_secret_hash = COALESCE(EXCLUDED.enrolment_secret_hash, devices.enrolment_secret_hash),
         updated_at = now()
       RETURNING ${DEVICE_VIEW_COLUMNS}`,
      params,
    );
    return inserted[0] ? toView(inserted[0]) : null;
  }

  async deleteDevice(id: string): Promise<boolean> {
    const [, count]: [unknown, number] = await this.db.query('DELETE FROM devices WHERE id = $1', [id]);
    await this.db.query('DELETE FROM technician_grants WHERE device_id = $1', [id]);
    return count > 0;
  }

  async enrolmentSecretHash(deviceId: string): Promise<Buffer | null> {
    const rows: { hash: Buffer | null }[] = await this.db.query(
      "SELECT enrolment_secret_hash AS hash FROM devices WHERE id = $1 AND status = 'active'",
      [deviceId],
    );
    return rows[0]?.hash ?? null;
  }

  async upsertGrant(grant: GrantWrite): Promise<{ previousDeviceId: string | null }> {
    const previous: { device_id: string }[] = await this.db.query(
      'SELECT device_id FROM technician_grants WHERE id = $1',
      [grant.id],
    );
    await this.db.query(
      `INSERT INTO technician_grants (id, technician_id, device_id, scope, expires_at, revoked)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET technician_id = EXCLUDED.technician_id, device_id = EXCLUDED.device_id,
         scope = EXCLUDED.scope, expires_at = EXCLUDED.expires_at, revoked = EXCLUDED.revoked, updated_at = now()`,
      [grant.id, grant.technicianId, grant.deviceId, grant.scope, grant.expiresAt, grant.revoked],
    );
    return { previousDeviceId: previous[0]?.device_id ?? null };
  }

  async deleteGrant(id: string): Promise<{ deviceId: string; technicianId: string } | null> {
    // TypeORM answers DELETE and UPDATE with [rows, affected count].
    const [rows]: [{ device_id: string; technician_id: string }[], number] = await this.db.query(
      'DELETE FROM technician_grants WHERE id = $1 RETURNING device_id, technician_id',
      [id],
    );
    const row = rows[0];
    return row ? { deviceId: row.device_id, technicianId: row.technician_id } : null;
  }

  /** Stores a service credential; answers the permissions it held before, if it existed. */
  async upsertService(
    id: string,
    secretHash: Buffer,
    permissions: readonly ServicePermission[],
  ): Promise<ServicePermission[] | null> {
    const rows: { permissions: ServicePermission[] }[] = await this.db.query(
      // Every part of one statement sees the same snapshot: previous is the row before the upsert.
      `WITH previous AS (SELECT permissions FROM service_credentials WHERE id = $1),
       stored AS (
         INSERT INTO service_credentials (id, secret_hash, permissions) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE
           SET secret_hash = EXCLUDED.secret_hash, permissions = EXCLUDED.permissions, updated_at = now()
       )
       SELECT permissions FROM previous`,
      [id, secretHash, [...permissions]],
    );
    return rows[0]?.permissions ?? null;
  }

  async deleteService(id: string): Promise<boolean> {
    const [, count]: [unknown, number] = await this.db.query(
      'DELETE FROM service_credentials WHERE id = $1',
      [id],
    );
    return count > 0;
  }

  async setOnline(deviceId: string, online: boolean): Promise<void> {
    await this.db.query('UPDATE devices SET online = $2, last_seen_at = now() WHERE id = $1', [
      deviceId,
      online,
    ]);
  }
}
