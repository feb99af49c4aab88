import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The services that own a database, in the order their databases are created. */
export const DATABASE_SERVICES = ['user-service', 'device-service', 'cert-service', 'auth-server'] as const;

export interface ProvisionOptions {
  /** Superuser connection URL (any database; `postgres` is usual). */
  adminUrl: string;
  /** Prefix of role and database names. */
  prefix: string;
  /** Set new passwords for roles that already exist (running services must then be updated). */
  rotatePasswords: boolean;
  log: (line: string) => void;
}

export interface ProvisionedRole {
  /** The service, or `analytics` for the read-only role. */
  owner: string;
  role: string;
  /** Databases the role may connect to. */
  databases: string[];
  /** Undefined when the role existed and its password was left as it was. */
  password: string | undefined;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function roleName(prefix: string, service: string): string {
  const name = `${prefix}_${service.replace(/-/g, '_')}`;
  if (!IDENTIFIER.test(name)) throw new Error(`invalid prefix: "${prefix}" makes the name ${name}`);
  return name;
}

const quote = (identifier: string) => `"${identifier}"`;
const newPassword = () => randomBytes(24).toString('base64url');

/**
 * Creates, on a real PostgreSQL server, one database and one login role per service with rights on
 * its own database only, and a read-only analytics role that can read every service's tables. Safe
 * to run again: what exists is brought to the same state, and existing passwords are kept unless
 * rotation is asked for.
 */
export async function provision(options: ProvisionOptions): Promise<ProvisionedRole[]> {
  const admin = new pg.Client({ connectionString: options.adminUrl });
  await admin.connect();
  const results: ProvisionedRole[] = [];
  try {
    const analytics = roleName(options.prefix, 'analytics');
    const analyticsPassword = await ensureRole(admin, analytics, options);
    // Every session of the analytics role is read-only, whatever its statements ask for.
    await admin.query(`ALTER ROLE ${quote(analytics)} SET default_transaction_read_only = on`);
    const databases: string[] = [];

    for (const service of DATABASE_SERVICES) {
      const role = roleName(options.prefix, service);
      const database = role;
      const password = await ensureRole(admin, role, options);
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (exists.rowCount === 0) {
        await admin.query(`CREATE DATABASE ${quote(database)} OWNER ${quote(role)}`);
        options.log(`created database ${database}`);
      } else {
        await admin.query(`ALTER DATABASE ${quote(database)} OWNER TO ${quote(role)}`);
      }
      // PUBLIC may connect to a new database by default: that would let every service's role in.
      await admin.query(`REVOKE ALL ON DATABASE ${quote(database)} FROM PUBLIC`);
      await admin.query(`GRANT CONNECT ON DATABASE ${quote(database)} TO ${quote(analytics)}`);
      await grantInside(options.adminUrl, database, role, analytics);
      databases.push(database);
      results.push({ owner: service, role, databases: [database], password });
    }
    results.push({ owner: 'analytics', role: analytics, databases, password: analyticsPassword });
  } finally {
    await admin.end();
  }
  return results;
}

async function ensureRole(
  admin: pg.Client,
  role: string,
  options: ProvisionOptions,
): Promise<string | undefined> {
  const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  const attributes = 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS';
  if (exists.rowCount === 0) {
    const password = newPassword();
    await admin.query(`CREATE ROLE ${quote(role)} ${attributes} PASSWORD ${admin.escapeLiteral(password)}`);
    options.log(`created role ${role}`);
    return password;
  }
  await admin.query(`ALTER ROLE ${quote(role)} ${attributes}`);
  if (!options.rotatePasswords) return undefined;
  const password = newPassword();
  await admin.query(`ALTER ROLE ${quote(role)} PASSWORD ${admin.escapeLiteral(password)}`);
  options.log(`rotated password of role ${role}`);
  return password;
}

/** Inside the service's database: the service owns the schema, analytics may only read. */
async function grantInside(
  adminUrl: string,
  database: string,
  owner: string,
  analytics: string,
): Promise<void> {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`ALTER SCHEMA public OWNER TO ${quote(owner)}`);
    await client.query(`REVOKE ALL ON SCHEMA public FROM PUBLIC`);
    await client.query(`GRANT USAGE ON SCHEMA public TO ${quote(analytics)}`);
    await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${quote(analytics)}`);
    await client.query(`GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ${quote(analytics)}`);
    // Tables the service creates later through its migrations are readable by analytics too.
    await client.query(
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${quote(owner)} IN SCHEMA public GRANT SELECT ON TABLES TO ${quote(analytics)}`,
    );
  } finally {
    await client.end();
  }
}

/** The per-service DATABASE_URLs, as lines of an environment file. */
export function formatUrls(adminUrl: string, roles: ProvisionedRole[]): string[] {
  const server = new URL(adminUrl);
  return roles.map((r) => {
    const url = new URL(`postgres://${server.host}/${r.databases[0] ?? ''}`);
    url.username = r.role;
    url.password = r.password ?? 'UNCHANGED';
    url.search = server.search;
    const variable = `${r.owner.toUpperCase().replace(/-/g, '_')}_DATABASE_URL`;
    const note =
      r.password === undefined ? '   # existing role: password kept (--rotate-passwords sets a new one)' : '';
    return r.owner === 'analytics'
      ? `ANALYTICS_DATABASE_URLS=${r.databases.map((d) => withDatabase(url, d)).join(',')}${note}`
      : `${variable}=${url.toString()}${note}`;
  });
}

function withDatabase(url: URL, database: string): string {
  const copy = new URL(url.toString());
  copy.pathname = `/${database}`;
  return copy.toString();
}
