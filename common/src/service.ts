import { join } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import {
  ConfigError,
  parseConfig,
  type baseConfig,
  type ConfigOf,
  type ConfigShape,
  type databaseConfig,
} from './config.js';
import { openDatabase, type ServiceDatabase } from './database.js';
import { HealthChecks } from './health.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type ServiceMetrics } from './metrics.js';
import { initErrorReporting, type ErrorReporter } from './sentry.js';
import { Shutdown } from './shutdown.js';

type BaseShape = typeof baseConfig & ConfigShape;
export type BaseConfig = ConfigOf<typeof baseConfig>;
export type DatabaseConfig = ConfigOf<typeof databaseConfig>;

/** What every service builds before it serves: parsed config, logger, metrics, health, error reporting. */
export interface ServiceContext<C extends BaseConfig = BaseConfig> {
  name: string;
  config: C;
  logger: Logger;
  metrics: ServiceMetrics;
  health: HealthChecks;
  reporter: ErrorReporter;
}

export async function createContext<S extends BaseShape>(
  name: string,
  shape: S,
  env: NodeJS.ProcessEnv,
): Promise<ServiceContext<ConfigOf<S> & BaseConfig>> {
  const config = parseConfig(shape, env, name) as ConfigOf<S> & BaseConfig;
  const logger = createLogger({ service: name, level: config.LOG_LEVEL });
  const reporter = await initErrorReporting({ dsn: config.SENTRY_DSN, service: name }, logger);
  return { name, config, logger, metrics: createMetrics(name), health: new HealthChecks(), reporter };
}

/** Opens the service's own database and makes readiness depend on it. */
export async function openServiceDatabase(
  context: ServiceContext<BaseConfig & DatabaseConfig>,
  schema: { entities?: DataSourceOptions['entities']; migrations?: DataSourceOptions['migrations'] },
): Promise<ServiceDatabase> {
  const { config } = context;
  const database = await openDatabase({
    service: context.name,
    url: config.DATABASE_URL,
    pgliteDir: join(config.DATA_DIR, context.name, 'pglite'),
    poolSize: config.DATABASE_POOL_SIZE,
    logger: context.logger,
    ...schema,
  });
  context.health.add('database', () => database.ping());
  return database;
}

/** A service that is up and listening. `close` drains it and releases everything it holds. */
export interface RunningService {
  name: string;
  /** Base URL of the HTTP listener that serves /health and /metrics. */
  url: string;
  context: ServiceContext;
  /** HTTP routes the service registered (method and path pattern), for the access-rule coverage check. */
  routes?: { method: string; path: string }[];
  close(): Promise<void>;
}

/**
 * Entry point of every service's main.ts. A configuration error ends the process with exit code 1
 * and one line naming the variable; SIGINT/SIGTERM drain and exit 0.
 */
export function runMain(name: string, start: (env: NodeJS.ProcessEnv) => Promise<RunningService>): void {
  start(process.env).then(
    (service) => {
      const { logger, config, reporter } = service.context;
      new Shutdown({ logger, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, reporter })
        .add('service', () => service.close())
        .listen();
      logger.info({ url: service.url }, `${name} ready`);
    },
    (err: unknown) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${name}: ${err.message}\n`);
      } else {
        const message = err instanceof Error ? err.message : String(err);
        process.stderr.write(`${name}: failed to start: ${message}\n`);
      }
      process.exit(1);
    },
  );
}
