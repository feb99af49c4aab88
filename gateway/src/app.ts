import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ConfigError,
  createContext,
  sendJson,
  startHttpListener,
  type HttpListener,
  type RunningService,
} from '@spincycle/common';
import { config } from './config.js';
import { parseAllowedOrigins, type CorsPolicy } from './edge/cors.js';
import { startEdgeListener, type EdgeListener } from './edge/listener.js';
import { RateLimiter } from './edge/rate-limit.js';
import { edgeTlsOptions } from './edge/tls.js';
import type { HandlerContext } from './pipeline/handlers.js';
import { IntrospectionClient } from './pipeline/introspection.js';
import { SigningKeys } from './pipeline/signing-keys.js';
import { createAccessProxy, type AccessProxy } from './proxy/access-proxy.js';
import { loadRulesFile } from './rules/rules.js';

export const JWKS_PATH = '/.well-known/jwks.json';

export interface GatewayService extends RunningService {
  /** The public access proxy. */
  proxyUrl: string;
  /** The admin access proxy (127.0.0.1 only), when admin rules are configured. */
  adminProxyUrl?: string;
  /** Where services fetch the id_token verification keys. */
  jwksUrl: string;
}

const SWEEP_INTERVAL_MS = 60_000;

function corsPolicy(origins: string | undefined): CorsPolicy | undefined {
  if (!origins) return undefined;
  try {
    return parseAllowedOrigins(origins);
  } catch (err) {
    throw new ConfigError([
      `CORS_ALLOWED_ORIGINS is invalid: ${err instanceof Error ? err.message : String(err)}`,
    ]);
  }
}

export async function start(env: NodeJS.ProcessEnv): Promise<GatewayService> {
  const context = await createContext('gateway', config, env);
  const { config: c, logger } = context;
  if (Boolean(c.TLS_CERT_FILE) !== Boolean(c.TLS_KEY_FILE)) {
    throw new ConfigError(['TLS_CERT_FILE and TLS_KEY_FILE must be set together']);
  }
  const cors = corsPolicy(c.CORS_ALLOWED_ORIGINS);
  const tls =
    c.TLS_CERT_FILE && c.TLS_KEY_FILE ? await edgeTlsOptions(c.TLS_CERT_FILE, c.TLS_KEY_FILE) : undefined;
  const keys = c.ID_TOKEN_KEYS_FILE
    ? await SigningKeys.fromFile(c.ID_TOKEN_KEYS_FILE)
    : await SigningKeys.generate();

  const api = await startHttpListener({
    context,
    port: c.API_PORT,
    host: '127.0.0.1',
    handler: (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== JWKS_PATH || (req.method !== 'GET' && req.method !== 'HEAD')) {
        sendJson(res, 404, { statusCode: 404, message: 'not found' });
        return 'unmatched';
      }
      sendJson(res, 200, keys.jwks, { 'cache-control': 'public, max-age=60' });
      return JWKS_PATH;
    },
  });
  const jwksUrl = `${api.url}${JWKS_PATH}`;
  const listeners: (HttpListener | EdgeListener)[] = [api];
  const proxies: AccessProxy[] = [];
  const limiter = new RateLimiter(c.RATE_LIMIT_PER_MINUTE, c.RATE_LIMIT_BURST);
  const sweeper = setInterval(() => limiter.sweep(), SWEEP_INTERVAL_MS);
  sweeper.unref();
  const close = async () => {
    clearInterval(sweeper);
    await Promise.all(listeners.map((listener) => listener.close()));
    for (const proxy of proxies) proxy.close();
  };

  try {
    const handlers: HandlerContext = {
      defaults: {
        oauth2_introspection: { introspection_url: c.INTROSPECTION_URL },
        id_token: {
          issuer_url: c.ID_TOKEN_ISSUER_URL,
          jwks_url: c.ID_TOKEN_KEYS_FILE ? pathToFileURL(resolve(c.ID_TOKEN_KEYS_FILE)).href : jwksUrl,
          ttl: c.ID_TOKEN_TTL,
        },
        anonymous: { subject: 'anonymous' },
      },
      introspection: new IntrospectionClient({ maxCacheTtlMs: c.INTROSPECTION_CACHE_MAX_TTL_MS }),
      keys,
    };
    const publicRules = await loadRulesFile(c.RULES_PATH, c.MATCHING_STRATEGY, handlers);
    const adminRules = c.ADMIN_RULES_PATH
      ? await loadRulesFile(c.ADMIN_RULES_PATH, c.MATCHING_STRATEGY, handlers)
      : undefined;
    const common = {
      logger,
      trustForwardedHeaders: c.TRUST_FORWARDED_HEADERS,
      upstreamTimeoutMs: c.UPSTREAM_TIMEOUT_MS,
      rateLimiter: limiter,
    };
    const publicProxy = createAccessProxy({
      ...common,
      rules: () => publicRules,
      maxBodyBytes: c.MAX_BODY_BYTES,
      cors,
      hsts: tls && c.HSTS_MAX_AGE > 0 ? `max-age=${c.HSTS_MAX_AGE}; includeSubDomains` : undefined,
    });
    proxies.push(publicProxy);
    const proxy = await startEdgeListener({
      context,
      port: c.PROXY_PORT,
      host: c.HOST,
      handler: publicProxy.handle,
      tls,
    });
    listeners.push(proxy);
    let adminProxyUrl: string | undefined;
    if (adminRules) {
      // Admin routes are reachable from the machine (or the cluster's internal network) only.
      const adminProxy = createAccessProxy({
        ...common,
        rules: () => adminRules,
        maxBodyBytes: c.ADMIN_MAX_BODY_BYTES,
      });
      proxies.push(adminProxy);
      const admin = await startEdgeListener({
        context,
        port: c.ADMIN_PROXY_PORT,
        host: '127.0.0.1',
        handler: adminProxy.handle,
      });
      listeners.push(admin);
      adminProxyUrl = admin.url;
    }
    logger.info(
      { rules: publicRules.length, adminRules: adminRules?.length ?? 0, tls: Boolean(tls) },
      'access rules loaded',
    );
    return { name: context.name, url: api.url, context, proxyUrl: proxy.url, adminProxyUrl, jwksUrl, close };
  } catch (err) {
    await close();
    throw err;
  }
}
