import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What each device last reported on `devices/{id}/state`, and the first-connect provisioning
 * sessions the app polls while a machine joins the home Wi-Fi.
 */
export class AddDeviceStateAndProvisioning1764800000000 implements MigrationInterface {
  name = 'AddDeviceStateAndProvisioning1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE devices
        ADD COLUMN last_state jsonb,
        ADD COLUMN last_state_at timestamptz,
        ADD CONSTRAINT devices_last_state_pair CHECK ((last_state IS NULL) = (last_state_at IS NULL))`);
    // One live token per device: issuing another replaces the row. Only the keyed hash is kept,
    // so the table is useless for connecting as the device without SECRET_PEPPER.
    await q.query(`
      CREATE TABLE provisioning_sessions (
        device_id text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
        token_hash bytea NOT NULL,
        issued_by text NOT NULL,
        issued_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        connected_at timestamptz
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE provisioning_sessions');
    await q.query(`
      ALTER TABLE devices
        DROP CONSTRAINT devices_last_state_pair,
        DROP COLUMN last_state_at,
        DROP COLUMN last_state`);
  }
}
