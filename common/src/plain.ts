import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { accessLogLevel, closeServer, listen, sendJson, serveOps, urlOf, type RouteHandler } from './http.js';
import type { ServiceContext } from './service.js';

export interface HttpListenerOptions {
  context: ServiceContext;
  port: number;
  host?: string;
  /** Serves everything but the ops endpoints; absent means every other path is 404. */
  handler?: RouteHandler;
  /** Whether this listener answers /health and /metrics (internal listeners do, public ones may not). */
  ops?: boolean;
}

export interface HttpListener {
  server: Server;
  url: string;
  close(): Promise<void>;
}

const notFound: RouteHandler = (_req, res) => {
  sendJson(res, 404, { statusCode: 404, message: 'not found' });
  return 'unmatched';
};

/**
 * A node:http listener for the services that are not NestJS (they sit on a protocol library of
 * their own: oidc-provider, aedes, a reverse proxy, a filter). Same metrics, access log and error
 * handling as the Nest services: a handler that throws gives a 500 without detail.
 */
export async function startHttpListener(options: HttpListenerOptions): Promise<HttpListener> {
  const { context } = options;
  const { logger, metrics, health } = context;
  const handler = options.handler ?? notFound;
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<string> => {
    if (options.ops !== false && (await serveOps(req, res, health, metrics))) {
      return (req.url ?? '/').split('?')[0] ?? '/';
    }
    return handler(req, res);
  };
  const server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    serve(req, res)
      .catch((err: unknown) => {
        logger.error({ err, method: req.method }, 'unhandled error');
        if (!res.headersSent) sendJson(res, 500, { statusCode: 500, message: 'internal error' });
        else res.destroy();
        return 'error';
      })
      .then((route) => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        metrics.httpRequestDuration.observe(
          { method: req.method ?? 'UNKNOWN', route, status_code: String(res.statusCode) },
          seconds,
        );
        logger[accessLogLevel(route)](
          { method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000) },
          'request',
        );
      });
  });
  const address = await listen(server, options.port, options.host ?? context.config.HOST);
  return { server, url: urlOf(address), close: () => closeServer(server) };
}
