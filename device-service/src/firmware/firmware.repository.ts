import { Injectable } from '@nestjs/common';
import { isUniqueViolation } from '@spincycle/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { DeviceStatus } from '../cert-service/cert-service.client.js';
import { FirmwareVersionExists } from '../errors.js';
import type { FirmwareVersion } from './firmware-version.js';

export interface Firmware {
  id: string;
  model: string;
  version: string;
  /** The version's numbers as stored beside it, for ordering without parsing again. */
  parsedVersion: FirmwareVersion;
  sizeBytes: number;
  sha256: Buffer;
  signature: Buffer;
  signingKeyId: string;
  uploadedBy: string;
  uploadedAt: Date;
}

export type NewFirmware = Omit<Firmware, 'uploadedAt'>;

/** A device a rollout may reach, with what it runs and the newest version already offered to it. */
export interface RolloutTarget {
  id: string;
  model: string;
  status: DeviceStatus;
  firmwareVersion: string | null;
}

/** What a device reported of an update, from an `ota.*` event. */
export interface FirmwareReport {
  deviceId: string;
  version: string;
  outcome: 'installed' | 'failed';
  detail: string | null;
  at: Date;
}

interface FirmwareRow {
  id: string;
  model: string;
  version: string;
  version_major: number;
  version_minor: number;
  version_patch: number;
  size_bytes: string;
  sha256: Buffer;
  signature: Buffer;
  signing_key_id: string;
  uploaded_by: string;
  uploaded_at: Date;
}

const COLUMNS =
  'id, model, version, version_major, version_minor, version_patch, size_bytes, sha256, signature, signing_key_id, uploaded_by, uploaded_at';

const toFirmware = (row: FirmwareRow): Firmware => ({
  id: row.id,
  model: row.model,
  version: row.version,
  parsedVersion: { major: row.version_major, minor: row.version_minor, patch: row.version_patch },
  sizeBytes: Number(row.size_bytes),
  sha256: row.sha256,
  signature: row.signature,
  signingKeyId: row.signing_key_id,
  uploadedBy: row.uploaded_by,
  uploadedAt: row.uploaded_at,
});

interface TargetRow {
  id: string;
  model: string;
  status: DeviceStatus;
  firmware_version: string | null;
}

const TARGET_COLUMNS = 'id, model, status, firmware_version';

const toTarget = (r: TargetRow): RolloutTarget => ({
  id: r.id,
  model: r.model,
  status: r.status,
  firmwareVersion: r.firmware_version,
});

/** The only code that reads or writes the firmware catalogue and its rollouts. */
@Injectable()
export class FirmwareRepository {
  constructor(private readonly db: DataSource) {}

  async insert(firmware: NewFirmware): Promise<void> {
    await this.db
      .query(
        `INSERT INTO firmware (id, model, version, version_major, version_minor, version_patch,
           size_bytes, sha256, signature, signing_key_id, uploaded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          firmware.id,
          firmware.model,
          firmware.version,
          firmware.parsedVersion.major,
          firmware.parsedVersion.minor,
          firmware.parsedVersion.patch,
          firmware.sizeBytes,
          firmware.sha256,
          firmware.signature,
          firmware.signingKeyId,
          firmware.uploadedBy,
        ],
      )
      .catch((err: unknown) => {
        if (isUniqueViolation(err)) throw new FirmwareVersionExists();
        throw err;
      });
  }

  async exists(model: string, version: string): Promise<boolean> {
    const rows: unknown[] = await this.db.query('SELECT 1 FROM firmware WHERE model = $1 AND version = $2', [
      model,
      version,
    ]);
    return rows.length > 0;
  }

  async find(id: string): Promise<Firmware | null> {
    const rows: FirmwareRow[] = await this.db.query(`SELECT ${COLUMNS} FROM firmware WHERE id = $1`, [id]);
    return rows[0] ? toFirmware(rows[0]) : null;
  }

  /** Newest version first. */
  async list(model: string | null): Promise<Firmware[]> {
    const rows: FirmwareRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM firmware WHERE $1::text IS NULL OR model = $1
       ORDER BY model, version_major DESC, version_minor DESC, version_patch DESC`,
      [model],
    );
    return rows.map(toFirmware);
  }

  /** The named devices, or with no names every device of the model. */
  async targets(model: string, deviceIds: readonly string[] | null): Promise<RolloutTarget[]> {
    const rows: TargetRow[] =
      deviceIds === null
        ? await this.db.query(`SELECT ${TARGET_COLUMNS} FROM devices WHERE model = $1 ORDER BY id`, [model])
        : await this.db.query(
            `SELECT ${TARGET_COLUMNS} FROM devices WHERE id = ANY($1::text[]) ORDER BY id`,
            [deviceIds],
          );
    return rows.map(toTarget);
  }

  /** The device's own facts for a download: whether it is active, its model and what it runs. */
  async downloader(deviceId: string): Promise<RolloutTarget | null> {
    const rows: TargetRow[] = await this.db.query(`SELECT ${TARGET_COLUMNS} FROM devices WHERE id = $1`, [
      deviceId,
    ]);
    return rows[0] ? toTarget(rows[0]) : null;
  }

  async recordOffer(firmwareId: string, deviceId: string, offeredBy: string): Promise<void> {
    await this.db.query(
      `INSERT INTO firmware_rollouts (firmware_id, device_id, status, offered_by)
       VALUES ($1, $2, 'offered', $3)
       ON CONFLICT (firmware_id, device_id)
       DO UPDATE SET status = 'offered', offered_by = $3, offered_at = now(), reported_at = NULL, detail = NULL`,
      [firmwareId, deviceId, offeredBy],
    );
  }

  async rollouts(
    firmwareId: string,
  ): Promise<
    { deviceId: string; status: string; offeredAt: Date; reportedAt: Date | null; detail: string | null }[]
  > {
    const rows: {
      device_id: string;
      status: string;
      offered_at: Date;
      reported_at: Date | null;
      detail: string | null;
    }[] = await this.db.query(
      `SELECT device_id, status, offered_at, reported_at, detail FROM firmware_rollouts
         WHERE firmware_id = $1 ORDER BY device_id`,
      [firmwareId],
    );
    return rows.map((r) => ({
      deviceId: r.device_id,
      status: r.status,
      offeredAt: r.offered_at,
      reportedAt: r.reported_at,
      detail: r.detail,
    }));
  }

  /**
   * Applies what devices reported, in the ingesting transaction: the rollout of that version to
   * that device takes the outcome, and an installed version becomes what the device runs.
   */
  async applyReports(reports: readonly FirmwareReport[], manager: EntityManager): Promise<void> {
    if (reports.length === 0) return;
    const json = JSON.stringify(
      reports.map((r) => ({
        device_id: r.deviceId,
        version: r.version,
        outcome: r.outcome,
        detail: r.detail,
        at: r.at.toISOString(),
      })),
    );
    await manager.query(
      `UPDATE firmware_rollouts fr SET status = r.outcome, reported_at = r.at, detail = r.detail
       FROM jsonb_to_recordset($1::jsonb) AS r(device_id text, version text, outcome text, detail text, at timestamptz),
         firmware f
       WHERE fr.device_id = r.device_id AND fr.firmware_id = f.id AND f.version = r.version`,
      [json],
    );
    await manager.query(
      `UPDATE devices d SET firmware_version = r.version, updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS r(device_id text, version text, outcome text, detail text, at timestamptz)
       WHERE d.id = r.device_id AND r.outcome = 'installed'`,
      [json],
    );
  }
}
