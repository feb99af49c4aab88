import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AddDeviceStateAndProvisioning1764800000000 } from './migration-device-state.js';
import { AddFirmwareRollouts1764900000000 } from './migration-firmware-rollouts.js';

/** device-service's tables: the registry, claiming state, grants and their audit, events, firmware. */
export class CreateDeviceRegistry1764100000000 implements MigrationInterface {
  name = 'CreateDeviceRegistry1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE devices (
        id text PRIMARY KEY,
        serial text NOT NULL UNIQUE,
        model text NOT NULL,
        hardware_revision text NOT NULL,
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
        name text,
        owner_id text,
        claimed_at timestamptz,
        claim_code_hash bytea,
        settings jsonb,
        firmware_version text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((owner_id IS NULL) = (claimed_at IS NULL))
      )`);
    await q.query('CREATE INDEX devices_owner ON devices (owner_id) WHERE owner_id IS NOT NULL');
    // One row per device and per user that presented a wrong claim code: the counter and the
    // lockout it earned. Rows are removed on a successful claim.
    await q.query(`
      CREATE TABLE claim_attempts (
        subject_kind text NOT NULL CHECK (subject_kind IN ('device', 'user')),
        subject_id text NOT NULL,
        failures integer NOT NULL DEFAULT 0,
        locked_until timestamptz,
        last_failure_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (subject_kind, subject_id)
      )`);
    await q.query(`
      CREATE TABLE grants (
        id text PRIMARY KEY,
        device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        owner_id text NOT NULL,
        technician_id text NOT NULL,
        scope text NOT NULL CHECK (scope IN ('read', 'control')),
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz
      )`);
    await q.query('CREATE INDEX grants_technician ON grants (technician_id, expires_at)');
    await q.query('CREATE INDEX grants_device ON grants (device_id)');
    // No foreign key: the audit trail outlives the device and the grant it speaks of.
    await q.query(`
      CREATE TABLE audit_log (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        device_id text NOT NULL,
        actor_id text NOT NULL,
        action text NOT NULL,
        grant_id text,
        detail jsonb NOT NULL DEFAULT '{}',
        at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX audit_log_device ON audit_log (device_id, id)');
    await q.query(`
      CREATE TABLE events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        device_id text NOT NULL,
        event_id text NOT NULL,
        type text NOT NULL,
        payload jsonb NOT NULL,
        device_time timestamptz,
        received_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT events_device_event UNIQUE (device_id, event_id)
      )`);
    // The events API reads one device newest first, optionally between two times.
    await q.query('CREATE INDEX events_device_received ON events (device_id, received_at DESC, id DESC)');
    await q.query('CREATE INDEX events_received ON events (received_at)');
    await q.query(`
      CREATE TABLE dead_letters (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        topic text NOT NULL,
        payload bytea NOT NULL,
        reason text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE firmware (
        id text PRIMARY KEY,
        model text NOT NULL,
        version text NOT NULL,
        version_major integer NOT NULL,
        version_minor integer NOT NULL,
        version_patch integer NOT NULL,
        size_bytes bigint NOT NULL,
        sha256 bytea NOT NULL,
        signature bytea NOT NULL,
        signing_key_id text NOT NULL,
        uploaded_by text NOT NULL,
        uploaded_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT firmware_model_version UNIQUE (model, version)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'firmware',
      'dead_letters',
      'events',
      'audit_log',
      'grants',
      'claim_attempts',
      'devices',
    ]) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}

export const migrations = [
  CreateDeviceRegistry1764100000000,
  AddDeviceStateAndProvisioning1764800000000,
  AddFirmwareRollouts1764900000000,
];
