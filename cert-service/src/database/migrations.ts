import type { MigrationInterface, QueryRunner } from 'typeorm';

/** cert-service's own tables: the facts the broker decisions rest on, fed by device-service. */
export class CreateAuthorizationFacts1764000000000 implements MigrationInterface {
  name = 'CreateAuthorizationFacts1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE devices (
        id text PRIMARY KEY,
        status text NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
        owner_id text,
        mqtt_password_hash bytea NOT NULL,
        enrolment_secret_hash bytea,
        online boolean NOT NULL DEFAULT false,
        last_seen_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE technician_grants (
        id text PRIMARY KEY,
        technician_id text NOT NULL,
        device_id text NOT NULL,
        scope text NOT NULL CHECK (scope IN ('read', 'control')),
        expires_at timestamptz NOT NULL,
        revoked boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(
      'CREATE INDEX technician_grants_actor_device ON technician_grants (technician_id, device_id)',
    );
    await q.query('CREATE INDEX technician_grants_device ON technician_grants (device_id)');
    await q.query(`
      CREATE TABLE service_credentials (
        id text PRIMARY KEY,
        secret_hash bytea NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE certificates (
        serial text PRIMARY KEY,
        device_id text NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        status text NOT NULL CHECK (status IN ('active', 'revoked')),
        issued_via text NOT NULL CHECK (issued_via IN ('csr', 'legacy')),
        revoked_at timestamptz,
        revocation_reason text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX certificates_device ON certificates (device_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE certificates');
    await q.query('DROP TABLE service_credentials');
    await q.query('DROP TABLE technician_grants');
    await q.query('DROP TABLE devices');
  }
}

/**
 * Revocations the PKI backend has not confirmed yet. Set in the same statement that revokes the
 * record, so a crash or an unreachable Vault between the two cannot leave a serial off Vault's
 * CRL, which VerneMQ's crlfile reads.
 */
export class AddBackendRevocationPending1765000000000 implements MigrationInterface {
  name = 'AddBackendRevocationPending1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'ALTER TABLE certificates ADD COLUMN backend_revocation_pending boolean NOT NULL DEFAULT false',
    );
    await q.query(
      'CREATE INDEX certificates_backend_revocation_pending ON certificates (revoked_at) WHERE backend_revocation_pending',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX certificates_backend_revocation_pending');
    await q.query('ALTER TABLE certificates DROP COLUMN backend_revocation_pending');
  }
}

/**
 * What each service credential may do on the broker (ServicePermission). Credentials stored before
 * hold nothing until their service registers again, which every service does at start.
 */
export class AddServicePermissions1766000000000 implements MigrationInterface {
  name = 'AddServicePermissions1766000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE service_credentials ADD COLUMN permissions text[] NOT NULL DEFAULT '{}'
         CHECK (permissions <@ ARRAY['ingest', 'commands', 'ota']::text[])`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE service_credentials DROP COLUMN permissions');
  }
}

export const migrations = [
  CreateAuthorizationFacts1764000000000,
  AddBackendRevocationPending1765000000000,
  AddServicePermissions1766000000000,
];
