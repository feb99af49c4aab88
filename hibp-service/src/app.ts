import { createContext, startHttpListener, type RunningService } from '@spincycle/common';
import { Counter } from 'prom-client';
import { defaultFilterPath, ensureDefaultFilter } from './build/default-filter.js';
import { checkRoutes } from './check/check.http.js';
import { CheckService } from './check/check.service.js';
import { FilterStore } from './check/filter-store.js';
import { config } from './config.js';
import { ExactIndex } from './range/exact-index.js';

export interface HibpService extends RunningService {
  /** The filter in use; tests and operators reload it through here or with SIGHUP. */
  filters: FilterStore;
}

export async function start(env: NodeJS.ProcessEnv): Promise<HibpService> {
  const started = performance.now();
  const context = await createContext('hibp-service', config, env);
  const { config: cfg, logger, health, metrics } = context;

  let path = cfg.HIBP_FILTER_PATH;
  if (path === undefined) {
    path = defaultFilterPath(cfg.DATA_DIR);
    const outcome = await ensureDefaultFilter(path);
    logger.info({ path, outcome }, 'using the default filter (common leaked passwords)');
  }
  const filters = new FilterStore(path, logger);
  const reloads = new Counter({
    name: 'hibp_filter_reloads_total',
    help: 'Filter reloads by outcome (loaded, refused)',
    labelNames: ['outcome'] as const,
    registers: [metrics.registry],
  });
  filters.on('loaded', () => reloads.inc({ outcome: 'loaded' }));
  filters.on('reload-failed', () => reloads.inc({ outcome: 'refused' }));
  health.add('filter', () => filters.ready());

  const index = cfg.HIBP_EXACT_INDEX_PATH ? await ExactIndex.open(cfg.HIBP_EXACT_INDEX_PATH) : undefined;
  const checks = new CheckService(filters, metrics.registry);
  // The listener comes up first so that liveness answers while a multi-gigabyte filter loads;
  // readiness and /v1/check (503) wait for the filter.
  const listener = await startHttpListener({ context, port: cfg.PORT, handler: checkRoutes(checks, index) });
  try {
    await filters.load();
  } catch (err) {
    await listener.close();
    await index?.close();
    throw err;
  }
  if (cfg.HIBP_WATCH_FILTER) filters.watch();
  const onHangup = () => void filters.reload();
  process.on('SIGHUP', onHangup);
  logger.info(
    { ms: Math.round(performance.now() - started), exactIndex: index !== undefined },
    'hibp-service started',
  );

  return {
    name: context.name,
    url: listener.url,
    context,
    filters,
    routes: [
      { method: 'POST', path: '/v1/check' },
      { method: 'GET', path: '/range/:prefix' },
    ],
    async close() {
      process.off('SIGHUP', onHangup);
      await listener.close();
      await filters.close();
      await index?.close();
    },
  };
}
