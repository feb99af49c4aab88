import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Everything oidc-provider persists (clients, grants, sessions, interactions, codes, tokens) is one
 * JSON payload per (kind, id), with the columns its adapter contract looks rows up by.
 */
export class CreateOidcPayloads1764000000000 implements MigrationInterface {
  name = 'CreateOidcPayloads1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE oidc_payloads (
        kind text NOT NULL,
        id text NOT NULL,
        payload jsonb NOT NULL,
        grant_id text,
        user_code text,
        uid text,
        expires_at timestamptz,
        consumed_at timestamptz,
        PRIMARY KEY (kind, id)
      )`);
    await q.query(
      'CREATE INDEX oidc_payloads_grant_id ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL',
    );
    await q.query('CREATE INDEX oidc_payloads_uid ON oidc_payloads (kind, uid) WHERE uid IS NOT NULL');
    await q.query(
      'CREATE INDEX oidc_payloads_user_code ON oidc_payloads (kind, user_code) WHERE user_code IS NOT NULL',
    );
    await q.query(
      'CREATE INDEX oidc_payloads_expires_at ON oidc_payloads (expires_at) WHERE expires_at IS NOT NULL',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE oidc_payloads');
  }
}

/** Signing keys and cookie keys, created on first start so that a restart keeps tokens and sessions valid. */
export class CreateServerKeys1764000000001 implements MigrationInterface {
  name = 'CreateServerKeys1764000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE server_keys (
        purpose text PRIMARY KEY,
        material jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE server_keys');
  }
}

export const migrations = [CreateOidcPayloads1764000000000, CreateServerKeys1764000000001];
