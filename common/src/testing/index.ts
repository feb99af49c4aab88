import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { docOf, type ConfigShape } from '../config.js';
import { openDatabase, type DatabaseOptions, type ServiceDatabase } from '../database.js';
import { createLogger, type Logger } from '../logger.js';

/**
 * Test databases. With DATABASE_URL set (CI sets it), each test gets a fresh database on that
 * PostgreSQL server, created here and dropped afterwards, so tests never see each other's rows
 * and run exactly the production driver path. Without it, each test gets PGlite under a fresh
 * temporary directory.
 */
export interface TestDatabase {
  /** Environment for a service under test: DATABASE_URL (when on PostgreSQL) and DATA_DIR. */
  env: { DATABASE_URL?: string; DATA_DIR: string };
  kind: 'postgres' | 'pglite';
  drop(): Promise<void>;
}

export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), `spincycle-${label}-`));
  const base = process.env.DATABASE_URL;
  if (!base) {
    return {
      env: { DATA_DIR: dataDir },
      kind: 'pglite',
      drop: () => rm(dataDir, { recursive: true, force: true }),
    };
  }
  const name = `t_${label.replace(/\W/g, '_').slice(0, 30)}_${randomBytes(6).toString('hex')}`;
  await withAdmin(base, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString(), DATA_DIR: dataDir },
    kind: 'postgres',
    async drop() {
      await withAdmin(base, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh database opened as the service opens its own (PostgreSQL when DATABASE_URL is set, else
 * PGlite) and migrated, for tests of a repository; `close` closes it (unless the test did) and drops it.
 */
export async function openTestDatabase(
  label: string,
  options: Omit<DatabaseOptions, 'url' | 'pgliteDir' | 'logger'> & { logger?: DatabaseOptions['logger'] },
): Promise<{ database: ServiceDatabase; close(): Promise<void> }> {
  const db = await createTestDatabase(label);
  const database = await openDatabase({
    logger: createLogger({ service: options.service, level: 'silent' }),
    ...options,
    url: db.env.DATABASE_URL,
    pgliteDir: join(db.env.DATA_DIR, 'pglite'),
  });
  return {
    database,
    async close() {
      // A test may have closed it already, to see what a service does without its database.
      if (database.dataSource.isInitialized) await database.close();
      await db.drop();
    },
  };
}

async function withAdmin<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Environment for a service under test: random ports, quiet logs, its own database. */
export function serviceTestEnv(
  database: TestDatabase,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    HOST: '127.0.0.1',
    ...database.env,
    ...extra,
  };
}

/**
 * Every secret a service requires, as a fresh random value (each deployment has its own), read
 * from the service's documented configuration schema so that a new secret needs no test change.
 */
export function requiredSecretsEnv(shape: ConfigShape): Record<string, string> {
  return Object.fromEntries(
    Object.entries(shape)
      .filter(([, schema]) => docOf(schema)?.secret === true && !schema.safeParse(undefined).success)
      .map(([name]) => [name, randomBytes(32).toString('base64url')]),
  );
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

let nextPort = 20_000 + Math.floor(Math.random() * 10_000);

/**
 * A free port for a server that will bind it only later (after other services start). It comes
 * from below Linux's ephemeral range (32768 and up): tests running in parallel bind port 0, which
 * the kernel serves from that range, so none of them can take this port in between.
 */
export async function laterPort(): Promise<number> {
  for (;;) {
    const port = nextPort++;
    if (nextPort >= 32_000) nextPort = 20_000;
    if (await canBind(port)) return port;
  }
}

/** A logger whose lines a test reads back, parsed, in `lines`. */
export function capturingLogger(service = 'test'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    service,
    level: 'info',
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  return { logger, lines };
}
/**
 * Polls until `holds`, for what no event in this process announces (another process's state, a
 * notice on its way through PostgreSQL). The bound is a clock far beyond any wait a loaded machine
 * stretches, not a count of polls, which a slow machine runs through too soon.
 */
export async function eventually(
  holds: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await holds())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export * from './direct-routes.js';
