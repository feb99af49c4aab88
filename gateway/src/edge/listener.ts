import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TlsOptions } from 'node:tls';
import {
  accessLogLevel,
  closeServer,
  listen,
  sendJson,
  urlOf,
  type RouteHandler,
  type ServiceContext,
} from '@spincycle/common';

export interface EdgeListenerOptions {
  context: ServiceContext;
  port: number;
  host: string;
  handler: RouteHandler;
  /** Serve HTTPS with these options; plain HTTP when absent. */
  tls?: TlsOptions;
}

export interface EdgeListener {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/**
 * A proxy listener, HTTP or HTTPS. Unlike the internal listeners it answers no ops endpoint (those
 * stay on the API port) and sends no banner. Requests are measured and logged like every service's.
 */
export async function startEdgeListener(options: EdgeListenerOptions): Promise<EdgeListener> {
  const { logger, metrics } = options.context;
  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    let route = 'error';
    try {
      route = await options.handler(req, res);
    } catch (err) {
      logger.error({ err, method: req.method }, 'proxy failed');
      if (res.headersSent) res.destroy();
      else
        sendJson(res, 500, {
          error: { code: 500, status: 'Internal Server Error', message: 'internal error' },
        });
    }
    const ms = performance.now() - started;
    const labels = { method: req.method ?? 'UNKNOWN', route, status_code: String(res.statusCode) };
    metrics.httpRequestDuration.observe(labels, ms / 1000);
    logger[accessLogLevel(route)]({ ...labels, ms: Math.round(ms) }, 'proxied');
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => void onRequest(req, res);
  const server: Server = options.tls ? createHttpsServer(options.tls, listener) : createHttpServer(listener);
  // Slow-loris: a client gets a bounded time to send its headers.
  server.headersTimeout = 20_000;
  const address = await listen(server, options.port, options.host);
  return {
    server,
    url: urlOf(address, options.tls ? 'https' : 'http'),
    close: () => closeServer(server),
  };
}
