import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Which firmware was offered to which device, and what the device reported back. */
export class AddFirmwareRollouts1764900000000 implements MigrationInterface {
  name = 'AddFirmwareRollouts1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE firmware_rollouts (
        firmware_id text NOT NULL REFERENCES firmware (id),
        device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        status text NOT NULL CHECK (status IN ('offered', 'installed', 'failed')),
        offered_by text NOT NULL,
        offered_at timestamptz NOT NULL DEFAULT now(),
        reported_at timestamptz,
        detail text,
        PRIMARY KEY (firmware_id, device_id)
      )`);
    await q.query('CREATE INDEX firmware_rollouts_device ON firmware_rollouts (device_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE firmware_rollouts');
  }
}
