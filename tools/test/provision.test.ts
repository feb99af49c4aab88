import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { DATABASE_SERVICES, provision, roleName } from '../src/provision/provision.js';

const adminUrl = process.env.DATABASE_URL;
const prefix = `t_prov_${randomBytes(4).toString('hex')}`;

function urlFor(role: string, database: string): string {
  const url = new URL(adminUrl ?? 'postgres://localhost');
  url.username = role;
  url.password = '';
  url.pathname = `/${database}`;
  return url.toString();
}

async function asRole<T>(role: string, database: string, run: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlFor(role, database) });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

// Roles and per-service databases exist only on a real PostgreSQL server; the PGlite run of the
// suite has no server to provision.
describe.skipIf(!adminUrl)('db:provision on PostgreSQL', () => {
  const user = roleName(prefix, 'user-service');
  const device = roleName(prefix, 'device-service');
  const analytics = roleName(prefix, 'analytics');

  afterAll(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    for (const service of DATABASE_SERVICES) {
      await admin.query(`DROP DATABASE IF EXISTS "${roleName(prefix, service)}" WITH (FORCE)`);
    }
    for (const service of [...DATABASE_SERVICES, 'analytics']) {
      await admin.query(`DROP ROLE IF EXISTS "${roleName(prefix, service)}"`);
    }
    await admin.end();
  });

  it('creates a role and a database per service, and succeeds when run again through the CLI', async () => {
    const first = await provision({
      adminUrl: adminUrl!,
      prefix,
      rotatePasswords: false,
      log: () => undefined,
    });
    expect(first.map((r) => r.owner)).toEqual([...DATABASE_SERVICES, 'analytics']);
    expect(first.every((r) => typeof r.password === 'string' && r.password.length >= 24)).toBe(true);

    const { stdout } = await promisify(execFile)(process.execPath, [
      'tools/dist/provision/main.js',
      adminUrl!,
      '--prefix',
      prefix,
    ]);
    expect(stdout).toContain(`USER_SERVICE_DATABASE_URL=postgres://${user}:UNCHANGED@`);
    expect(stdout).toContain(`DEVICE_SERVICE_DATABASE_URL=`);
    expect(stdout).toContain(`ANALYTICS_DATABASE_URLS=`);
  });

  it('lets a service create its tables in its own database', async () => {
    await asRole(user, user, async (c) => {
      await c.query('CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL)');
      await c.query(`INSERT INTO accounts (email) VALUES ('a@example.com')`);
    });
  });

  it("keeps device-service's role out of user-service's database", async () => {
    await expect(asRole(device, user, (c) => c.query('SELECT * FROM accounts'))).rejects.toThrow(
      /permission denied for database/,
    );
  });

  it('lets analytics read but not write', async () => {
    const rows = await asRole(analytics, user, (c) => c.query('SELECT email FROM accounts'));
    expect(rows.rows).toEqual([{ email: 'a@example.com' }]);
    await expect(
      asRole(analytics, user, (c) => c.query(`INSERT INTO accounts (email) VALUES ('b@example.com')`)),
    ).rejects.toThrow(/read-only transaction|permission denied/);
    await expect(asRole(analytics, user, (c) => c.query('CREATE TABLE evil (id int)'))).rejects.toThrow(
      /read-only transaction|permission denied/,
    );
  });

  it('gives service roles no power beyond their database', async () => {
    const attributes = await asRole(user, user, (c) =>
      c.query('SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user'),
    );
    expect(attributes.rows).toEqual([{ rolsuper: false, rolcreatedb: false, rolcreaterole: false }]);
  });
});
