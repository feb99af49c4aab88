import { Injectable } from '@nestjs/common';
import { isUniqueViolation } from '@spincycle/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { DeviceStatus } from '../cert-service/cert-service.client.js';
import { SerialTaken } from '../errors.js';
import type { DeviceState, IncomingState } from '../events/state.schema.js';
import type { DeviceSettings } from './models.js';

export interface DeviceView {
  id: string;
  serial: string;
  model: string;
  hardwareRevision: string;
  status: DeviceStatus;
  name: string | null;
  ownerId: string | null;
  claimedAt: Date | null;
  settings: DeviceSettings | null;
  firmwareVersion: string | null;
  /** What the device last published on its state topic, and when that was true. */
  lastState: DeviceState | null;
  lastStateAt: Date | null;
}

export interface NewDevice {
  id: string;
  serial: string;
  model: string;
  hardwareRevision: string;
  claimCodeHash: Buffer;
}

interface DeviceRow {
  id: string;
  serial: string;
  model: string;
  hardware_revision: string;
  status: DeviceStatus;
  name: string | null;
  owner_id: string | null;
  claimed_at: Date | null;
  settings: DeviceSettings | null;
  firmware_version: string | null;
  last_state: DeviceState | null;
  last_state_at: Date | null;
}

const COLUMNS =
  'id, serial, model, hardware_revision, status, name, owner_id, claimed_at, settings, firmware_version, ' +
  'last_state, last_state_at';

const toView = (row: DeviceRow): DeviceView => ({
  id: row.id,
  serial: row.serial,
  model: row.model,
  hardwareRevision: row.hardware_revision,
  status: row.status,
  name: row.name,
  ownerId: row.owner_id,
  claimedAt: row.claimed_at,
  settings: row.settings,
  firmwareVersion: row.firmware_version,
  lastState: row.last_state,
  lastStateAt: row.last_state_at,
});

/** The only code that reads or writes the device registry. */
@Injectable()
export class DevicesRepository {
  constructor(private readonly db: DataSource) {}

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  /** Serials among these that are already registered. */
  async existingSerials(
    serials: readonly string[],
    manager: EntityManager = this.db.manager,
  ): Promise<string[]> {
    const rows: { serial: string }[] = await manager.query(
      'SELECT serial FROM devices WHERE serial = ANY($1::text[])',
      [serials],
    );
    return rows.map((r) => r.serial);
  }

  /** Inserts the batch in one statement; a serial registered meanwhile refuses the whole batch. */
  async insertMany(devices: readonly NewDevice[], manager: EntityManager): Promise<void> {
    await manager
      .query(
        `INSERT INTO devices (id, serial, model, hardware_revision, claim_code_hash)
       SELECT d.id, d.serial, d.model, d.hardware_revision, decode(d.claim_code_hash, 'hex')
       FROM jsonb_to_recordset($1::jsonb) AS d(id text, serial text, model text, hardware_revision text, claim_code_hash text)`,
        [
          JSON.stringify(
            devices.map((d) => ({
              id: d.id,
              serial: d.serial,
              model: d.model,
              hardware_revision: d.hardwareRevision,
              claim_code_hash: d.claimCodeHash.toString('hex'),
            })),
          ),
        ],
      )
      .catch((err: unknown) => {
        if (isUniqueViolation(err)) throw new SerialTaken([]);
        throw err;
      });
  }

  async findBySerial(
    serial: string,
  ): Promise<{ id: string; ownerId: string | null; claimCodeHash: Buffer | null } | null> {
    return this.claimState('serial', serial, this.db.manager, false);
  }

  /** The device's claim state, locked for the claim or release that is about to change it. */
  async lockClaimState(
    id: string,
    manager: EntityManager,
  ): Promise<{ id: string; ownerId: string | null; claimCodeHash: Buffer | null } | null> {
    return this.claimState('id', id, manager, true);
  }

  private async claimState(by: 'id' | 'serial', value: string, manager: EntityManager, lock: boolean) {
    const rows: { id: string; owner_id: string | null; claim_code_hash: Buffer | null }[] =
      await manager.query(
        `SELECT id, owner_id, claim_code_hash FROM devices WHERE ${by} = $1${lock ? ' FOR UPDATE' : ''}`,
        [value],
      );
    const row = rows[0];
    return row ? { id: row.id, ownerId: row.owner_id, claimCodeHash: row.claim_code_hash } : null;
  }

  async find(id: string, manager: EntityManager = this.db.manager): Promise<DeviceView | null> {
    const rows: DeviceRow[] = await manager.query(`SELECT ${COLUMNS} FROM devices WHERE id = $1`, [id]);
    return rows[0] ? toView(rows[0]) : null;
  }

  async listOwnedBy(ownerId: string): Promise<DeviceView[]> {
    const rows: DeviceRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM devices WHERE owner_id = $1 ORDER BY claimed_at, id`,
      [ownerId],
    );
    return rows.map(toView);
  }

  /** Devices on which the technician holds a live grant, with that grant's scope and end. */
  async listGrantedTo(
    technicianId: string,
    now: Date,
  ): Promise<(DeviceView & { grant: { id: string; scope: string; expiresAt: Date } })[]> {
    const rows: (DeviceRow & { grant_id: string; grant_scope: string; grant_expires_at: Date })[] =
      await this.db.query(
        `SELECT ${COLUMNS.split(', ')
          .map((c) => `d.${c}`)
          .join(', ')}, g.id AS grant_id, g.scope AS grant_scope, g.expires_at AS grant_expires_at
       FROM grants g JOIN devices d ON d.id = g.device_id
       WHERE g.technician_id = $1 AND g.revoked_at IS NULL AND g.expires_at > $2
       ORDER BY g.expires_at, g.id`,
        [technicianId, now],
      );
    return rows.map((row) => ({
      ...toView(row),
      grant: { id: row.grant_id, scope: row.grant_scope, expiresAt: row.grant_expires_at },
    }));
  }

  /** Gives the device its owner and spends its claim code. */
  async claim(id: string, ownerId: string, manager: EntityManager): Promise<void> {
    await manager.query(
      `UPDATE devices SET owner_id = $2, claimed_at = now(), claim_code_hash = NULL, updated_at = now()
       WHERE id = $1`,
      [id, ownerId],
    );
  }

  /** Back to the factory state: no owner, name, settings or last state, and a fresh claim code. */
  async release(id: string, claimCodeHash: Buffer, manager: EntityManager): Promise<void> {
    await manager.query(
      `UPDATE devices SET owner_id = NULL, claimed_at = NULL, name = NULL, settings = NULL,
         last_state = NULL, last_state_at = NULL, claim_code_hash = $2, updated_at = now()
       WHERE id = $1`,
      [id, claimCodeHash],
    );
  }

  /**
   * Records each device's newest state (at most one per device) and the firmware version it names.
   * A state older than the one recorded is dropped; so is the broker's replay of the retained copy
   * of the recorded state, which would otherwise move its time to whenever the ingester resubscribed.
   */
  async recordStates(states: readonly IncomingState[], manager: EntityManager): Promise<void> {
    if (states.length === 0) return;
    await manager.query(
      `UPDATE devices d
       SET last_state = s.state, last_state_at = s.at,
         firmware_version = COALESCE(s.state->>'firmwareVersion', d.firmware_version)
       FROM jsonb_to_recordset($1::jsonb) AS s(device_id text, state jsonb, at timestamptz, replayed boolean)
       WHERE d.id = s.device_id
         AND (d.last_state_at IS NULL OR d.last_state_at <= s.at)
         AND NOT (s.replayed AND d.last_state IS NOT DISTINCT FROM s.state)`,
      [
        JSON.stringify(
          states.map((s) => ({
            device_id: s.deviceId,
            state: s.state,
            at: s.at.toISOString(),
            replayed: s.replayed,
          })),
        ),
      ],
    );
  }

  async rename(id: string, name: string): Promise<void> {
    await this.db.query('UPDATE devices SET name = $2, updated_at = now() WHERE id = $1', [id, name]);
  }

  async saveSettings(id: string, settings: DeviceSettings): Promise<void> {
    await this.db.query('UPDATE devices SET settings = $2::jsonb, updated_at = now() WHERE id = $1', [
      id,
      JSON.stringify(settings),
    ]);
  }
}
