import {
  createContext,
  openServiceDatabase,
  startHttpListener,
  type HttpListener,
  type RouteHandler,
  type RunningService,
  type ServiceContext,
  type ServiceDatabase,
} from '@spincycle/common';
import { ClientRegistry } from './admin/clients.js';
import { adminHandler, adminRoutes } from './admin/router.js';
import { FlowService } from './admin/flows.js';
import { config } from './config.js';
import { ServerKeys } from './keys/server-keys.js';
import { createProvider } from './provider.js';
import { publicHandler } from './public.js';
import { GrantSessions } from './storage/grant-sessions.js';
import { LogoutRequests } from './storage/logout-requests.js';
import { migrations } from './storage/migrations.js';
import { PayloadRepository } from './storage/payload.repository.js';

const SWEEP_INTERVAL_MS = 60 * 60 * 1000;

/** auth-server as started: `url` is the admin listener (ops endpoints), `publicUrl` the issuer's listener. */
export interface RunningAuthServer extends RunningService {
  publicUrl: string;
  issuer: string;
}

export async function start(env: NodeJS.ProcessEnv): Promise<RunningAuthServer> {
  const context = await createContext('auth-server', config, env);
  const { config: cfg, logger } = context;
  const database = await openServiceDatabase(context, { entities: [], migrations });
  const payloads = new PayloadRepository(database.dataSource);
  const grantSessions = new GrantSessions(payloads);
  const logoutRequests = new LogoutRequests(payloads);
  const listeners: HttpListener[] = [];
  try {
    const keys = new ServerKeys(database.dataSource);
    const signingKeys = await keys.signingKeys();
    const cookieKeys = await keys.cookieKeys(cfg.COOKIE_KEYS);

    // The issuer defaults to the public listener's own address, known only once it listens.
    const publicRoutes: { handle?: RouteHandler } = {};
    const publicApi = await startHttpListener({
      context,
      port: cfg.PUBLIC_PORT,
      ops: false,
      handler: (req, res) => {
        if (!publicRoutes.handle) throw new Error('public API is not ready');
        return publicRoutes.handle(req, res);
      },
    });
    listeners.push(publicApi);
    const issuer = cfg.ISSUER_URL ?? publicApi.url;
    const provider = createProvider({
      config: cfg,
      issuer,
      payloads,
      grantSessions,
      logoutRequests,
      signingKeys,
      cookieKeys,
    });
    // Behind an ingress the public scheme is https although this listener speaks http.
    provider.proxy = cfg.TRUST_PROXY;
    provider.on('server_error', (_ctx, err) => logger.error({ err }, 'authorization server error'));
    publicRoutes.handle = publicHandler(provider);

    const flows = new FlowService(provider, issuer, payloads, grantSessions, logoutRequests, {
      postLogoutRedirectUrl: cfg.POST_LOGOUT_REDIRECT_URL,
      grantTtlSeconds: cfg.REFRESH_TOKEN_TTL_SECONDS,
    });
    // The admin API accepts login and consent decisions: it must never be reachable from outside.
    const admin = await startHttpListener({
      context,
      port: cfg.ADMIN_PORT,
      host: '127.0.0.1',
      handler: adminHandler(
        adminRoutes(provider, issuer, flows, new ClientRegistry(provider, payloads)),
        logger,
      ),
    });
    listeners.push(admin);
    return running(context, database, payloads, { publicApi, admin, issuer });
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await database.close();
    throw err;
  }
}

function running(
  context: ServiceContext,
  database: ServiceDatabase,
  payloads: PayloadRepository,
  { publicApi, admin, issuer }: { publicApi: HttpListener; admin: HttpListener; issuer: string },
): RunningAuthServer {
  const { logger } = context;
  const sweep = setInterval(() => {
    payloads.deleteExpired().catch((err: unknown) => logger.warn({ err }, 'expired state sweep failed'));
  }, SWEEP_INTERVAL_MS);
  sweep.unref();

  return {
    name: context.name,
    url: admin.url,
    publicUrl: publicApi.url,
    issuer,
    context,
    async close() {
      clearInterval(sweep);
      await Promise.all([publicApi.close(), admin.close()]);
      await database.close();
    },
  };
}

export type { HydraClient } from './admin/clients.js';
export { API_SCOPES, SUPPORTED_SCOPES } from './provider.js';
