import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateUsers1764000100000 implements MigrationInterface {
  name = 'CreateUsers1764000100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY,
        email text NOT NULL,
        password_hash text NOT NULL,
        roles text[] NOT NULL DEFAULT '{homeowner}',
        created_at timestamptz NOT NULL DEFAULT now(),
        password_changed_at timestamptz NOT NULL DEFAULT now()
      )`);
    // The address is stored normalised; the index on lower() also refuses case variants written
    // by any other path.
    await q.query('CREATE UNIQUE INDEX users_email_unique ON users (lower(email))');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE users');
  }
}

/**
 * Failed-login counters per account and per client address, shared by every replica, so that
 * back-off and lockout hold whichever replica a guess lands on.
 */
export class CreateLoginThrottle1764000100001 implements MigrationInterface {
  name = 'CreateLoginThrottle1764000100001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE login_throttle (
        key text PRIMARY KEY,
        failures integer NOT NULL,
        locked_until timestamptz,
        last_failure_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE login_throttle');
  }
}

export const migrations = [CreateUsers1764000100000, CreateLoginThrottle1764000100001];
