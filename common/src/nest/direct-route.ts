import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { ServiceMetrics } from '../metrics.js';
import { readBody, RequestRefused, sendJson } from '../http.js';

/** What a direct route answers: always JSON. */
export interface DirectAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * A JSON POST route served straight from node:http, ahead of Fastify and Nest. For machine calls
 * at a rate where the frameworks' per-request pipeline is the cost (a broker's webhooks, one call
 * per MQTT packet): the route gets no guards, pipes, interceptors, request id nor access log line,
 * only the request duration metric, so it must check what it needs itself.
 */
export interface DirectJsonRoute {
  path: string;
  /** Given the parsed body; a throw is answered 500 without detail and logged. */
  handle(body: unknown, headers: IncomingHttpHeaders): Promise<DirectAnswer>;
  /** Told why a request never reached `handle` (not JSON, too large), for the service's own log line. */
  onRefused?(reason: string, headers: IncomingHttpHeaders): void;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

async function serve(
  route: DirectJsonRoute,
  req: IncomingMessage,
  res: ServerResponse,
  limitBytes: number,
): Promise<void> {
  let body: unknown;
  try {
    if (req.method !== 'POST') {
      throw new RequestRefused(405, `${route.path} accepts POST only`);
    }
    if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) {
      throw new RequestRefused(415, 'content-type must be application/json');
    }
    const raw = await readBody(req, limitBytes);
    if (raw.length === 0) throw new RequestRefused(400, 'body is empty');
    try {
      // JSON.parse makes `__proto__` an own property, never the prototype; handlers validate the
      // shape with a schema that copies known keys only.
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new RequestRefused(400, 'body is not valid JSON');
    }
  } catch (err) {
    const refusal = err as RequestRefused;
    route.onRefused?.(refusal.message, req.headers);
    const headers: Record<string, string> = refusal.status === 405 ? { allow: 'POST' } : {};
    // The rest of an oversized body is not worth reading on this connection.
    if (refusal.status === 413) headers.connection = 'close';
    sendJson(res, refusal.status, { statusCode: refusal.status, message: refusal.message }, headers);
    return;
  }
  const answer = await route.handle(body, req.headers);
  sendJson(res, answer.status, answer.body, answer.headers);
}

/**
 * The request listener for a service with direct routes: those paths (exactly, no query) are
 * served here, everything else by `fallback` (Fastify).
 */
export function directRouter(
  routes: ReadonlyMap<string, DirectJsonRoute>,
  fallback: (req: IncomingMessage, res: ServerResponse) => void,
  context: { logger: Logger; metrics: ServiceMetrics; bodyLimitBytes: number },
): (req: IncomingMessage, res: ServerResponse) => void {
  const { logger, metrics } = context;
  return (req, res) => {
    const route = routes.get(req.url ?? '');
    if (route === undefined) return fallback(req, res);
    const started = process.hrtime.bigint();
    serve(route, req, res, context.bodyLimitBytes)
      .catch((err: unknown) => {
        logger.error({ err, route: route.path }, 'unhandled error');
        if (!res.headersSent) sendJson(res, 500, { statusCode: 500, message: 'internal error' });
        else res.destroy();
      })
      .finally(() => {
        metrics.httpRequestDuration.observe(
          { method: req.method ?? 'UNKNOWN', route: route.path, status_code: String(res.statusCode) },
          Number(process.hrtime.bigint() - started) / 1e9,
        );
      });
  };
}
