import 'reflect-metadata';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { DataSource, type DataSourceOptions } from 'typeorm';
import type { Logger } from './logger.js';

type EntityList = NonNullable<DataSourceOptions['entities']>;
type MigrationList = NonNullable<DataSourceOptions['migrations']>;

export interface DatabaseOptions {
  service: string;
  /** PostgreSQL URL. When absent, an embedded PGlite database is opened instead. */
  url?: string | undefined;
  /** Where PGlite keeps its files; absent means in memory (tests). */
  pgliteDir?: string | undefined;
  poolSize?: number;
  entities?: EntityList;
  migrations?: MigrationList;
  logger: Logger;
}

export type DatabaseKind = 'postgres' | 'pglite';

/** A service's database connection, whichever engine serves it, with the checks the service needs. */
export class ServiceDatabase {
  constructor(
    readonly dataSource: DataSource,
    readonly kind: DatabaseKind,
    private readonly release: () => Promise<void>,
  ) {}

  /** Readiness: a round trip to the database within the deadline. */
  async ping(timeoutMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`database did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.dataSource.query('SELECT 1'), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await this.release();
  }
}

// Any constant works: it only has to be the same for every replica of every service.
const MIGRATION_LOCK_KEY = 0x5c_c1_e0;

/**
 * Opens the service's database and brings its schema up to date with the service's migrations
 * (never `synchronize`). The embedded engine is PGlite served over a private Unix socket, so the
 * ordinary `pg` driver, and therefore exactly the same TypeORM code, runs in both modes.
 */
export async function openDatabase(options: DatabaseOptions): Promise<ServiceDatabase> {
  const common = {
    type: 'postgres' as const,
    applicationName: options.service,
    entities: options.entities ?? [],
    migrations: options.migrations ?? [],
    migrationsTableName: 'migrations',
    synchronize: false,
    logging: false,
  };

  let database: ServiceDatabase;
  if (options.url) {
    const dataSource = new DataSource({
      ...common,
      url: options.url,
      extra: { max: options.poolSize ?? 10, connectionTimeoutMillis: 5000 },
    });
    await dataSource.initialize();
    database = new ServiceDatabase(dataSource, 'postgres', async () => undefined);
  } else {
    database = await openEmbedded(options, common);
  }

  try {
    await migrate(database, options.logger);
  } catch (err) {
    await database.close();
    throw err;
  }
  return database;
}

async function openEmbedded(
  options: DatabaseOptions,
  common: Omit<DataSourceOptions, 'type'> & { type: 'postgres' },
): Promise<ServiceDatabase> {
  const fresh = !options.pgliteDir || !existsSync(join(options.pgliteDir, 'PG_VERSION'));
  if (options.pgliteDir) await mkdir(options.pgliteDir, { recursive: true });
  const pglite = await PGlite.create(
    options.pgliteDir,
    fresh ? { loadDataDir: await pgliteTemplate(options.logger) } : {},
  );
  // A socket in a fresh 0700 directory: unlike a TCP port, no other local user can reach it, which
  // matters because PGlite's wire server has no authentication of its own.
  const socketDir = await mkdtemp(join(tmpdir(), 'spincycle-pg-'));
  const server = new PGLiteSocketServer({
    db: pglite,
    path: join(socketDir, '.s.PGSQL.5432'),
    maxConnections: 1,
  });
  await server.start();
  const release = async () => {
    await server.stop();
    await pglite.close();
    await rm(socketDir, { recursive: true, force: true });
  };
  // PGlite runs one query at a time; a single pooled connection keeps transactions from interleaving.
  const dataSource = new DataSource({
    ...common,
    host: socketDir,
    port: 5432,
    username: 'postgres',
    database: 'postgres',
    extra: { max: 1, connectionTimeoutMillis: 30_000 },
  });
  try {
    await dataSource.initialize();
  } catch (err) {
    await release();
    throw err;
  }
  options.logger.info({ dir: options.pgliteDir ?? 'memory' }, 'embedded PGlite database opened');
  return new ServiceDatabase(dataSource, 'pglite', release);
}

async function migrate(database: ServiceDatabase, logger: Logger): Promise<void> {
  const { dataSource } = database;
  // Replicas starting together must not run the same migration twice. The embedded engine is
  // private to one process, and its single connection would deadlock on the lock.
  const lock = database.kind === 'postgres' ? dataSource.createQueryRunner() : undefined;
  try {
    await lock?.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (applied.length > 0) {
      logger.info({ migrations: applied.map((m) => m.name) }, 'database migrations applied');
    }
  } finally {
    if (lock) {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
      await lock.release();
    }
  }
}

function pgliteVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const manifest = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/** The per-user cache of the initialised cluster; a user-owned directory, never a shared temp dir. */
export function pgliteTemplatePath(): string {
  const cache = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(cache, 'spincycle', `pglite-${pgliteVersion()}.tar.gz`);
}

/**
 * An empty, initialised PGlite cluster. Running initdb inside WebAssembly takes seconds of CPU per
 * database; unpacking a cluster initialised once takes a fraction of that, which keeps the first
 * `npm start` (four databases at once) and every test database quick. The install step prepares it.
 */
export async function pgliteTemplate(logger?: Logger): Promise<Blob> {
  const file = pgliteTemplatePath();
  try {
    return new Blob([await readFile(file)]);
  } catch {
    // Not prepared yet: make it now.
  }
  const scratch = await PGlite.create();
  const blob = await scratch.dumpDataDir('gzip');
  await scratch.close();
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  // Write then rename, so a process starting at the same moment never reads half a file.
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, Buffer.from(await blob.arrayBuffer()), { mode: 0o600 });
  await rename(partial, file);
  logger?.info({ file }, 'prepared the PGlite cluster template');
  return blob;
}

/**
 * Whether a query failed on a unique constraint (SQLSTATE 23505). TypeORM wraps the driver's
 * error and copies its fields, so the code is on either; PGlite and pg both report it.
 */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, driverError } = err as { code?: unknown; driverError?: { code?: unknown } };
  return code === '23505' || driverError?.code === '23505';
}
