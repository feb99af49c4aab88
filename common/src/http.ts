import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { HealthChecks } from './health.js';
import type { ServiceMetrics } from './metrics.js';

export type OpsPath = '/health' | '/health/live' | '/health/ready' | '/metrics';

export interface OpsResponse {
  status: number;
  contentType: string;
  body: string;
}

/**
 * The operational endpoints every service answers, framework-free so that NestJS controllers and
 * plain `node:http` services return the same bytes:
 *   /health/live   200 while the process runs
 *   /health/ready  200 when every readiness check passes, else 503
 *   /health        the readiness report with per-check detail (same status code)
 *   /metrics       Prometheus text exposition
 */
export async function opsResponse(
  path: OpsPath,
  health: HealthChecks,
  metrics: ServiceMetrics,
): Promise<OpsResponse> {
  if (path === '/metrics') {
    return {
      status: 200,
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    };
  }
  if (path === '/health/live') {
    return { status: 200, contentType: 'application/json', body: JSON.stringify({ status: 'ok' }) };
  }
  const report = await health.report();
  return {
    status: report.status === 'ok' ? 200 : 503,
    contentType: 'application/json',
    body: JSON.stringify(report),
  };
}

const OPS_PATHS = new Set<string>(['/health', '/health/live', '/health/ready', '/metrics']);

export function isOpsPath(path: string): path is OpsPath {
  return OPS_PATHS.has(path);
}

/** Serves an ops endpoint on a plain node:http server; returns false when the request is not one. */
export async function serveOps(
  req: IncomingMessage,
  res: ServerResponse,
  health: HealthChecks,
  metrics: ServiceMetrics,
): Promise<boolean> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (!isOpsPath(path)) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendJson(
      res,
      405,
      { error: 'Method Not Allowed', message: `${path} accepts GET only` },
      { allow: 'GET, HEAD' },
    );
    return true;
  }
  const out = await opsResponse(path, health, metrics);
  res.writeHead(out.status, { 'content-type': out.contentType, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : out.body);
  return true;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, jsonHeaders(text, headers));
  res.end(text);
}

/** The headers of a JSON answer whose serialized body is `text`. */
export function jsonHeaders(text: string, headers: Record<string, string> = {}): OutgoingHttpHeaders {
  return {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  };
}

export function listen(server: NetServer, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Stops accepting connections, lets in-flight requests finish, closes idle keep-alive sockets at
 * once and whatever is still open after the grace period.
 */
export function closeServer(server: Server, graceMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) return resolve();
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close((err) => {
      clearTimeout(force);
      if (err) reject(err);
      else resolve();
    });
    server.closeIdleConnections();
  });
}

export function urlOf(address: AddressInfo, scheme = 'http'): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

/** A request handler that tells which route pattern it served, for the duration histogram. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<string> | string;

/**
 * Probes hit the ops endpoints every few seconds, and machine-to-machine routes such as broker
 * webhooks once per MQTT packet; at info level they would drown the access log.
 */
export function accessLogLevel(route: string, quietRoutes?: ReadonlySet<string>): 'info' | 'debug' {
  return isOpsPath(route) || quietRoutes?.has(route) ? 'debug' : 'info';
}

/** A request refused before any handler ran (body too large, unreadable): status and safe message. */
export class RequestRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads a request body up to `limitBytes` and calls `done` once, with the body or with why it was
 * refused; a longer one is refused without keeping the rest. The callback form is for routes
 * served once per broker packet, where a promise per body is a cost worth avoiding.
 */
export function collectBody(
  req: IncomingMessage,
  limitBytes: number,
  done: (err: Error | undefined, body: Buffer | undefined) => void,
): void {
  if (Number(req.headers['content-length']) > limitBytes) {
    done(tooLarge(limitBytes), undefined);
    req.resume();
    return;
  }
  let first: Buffer | undefined;
  let rest: Buffer[] | undefined;
  let length = 0;
  let settled = false;
  req.on('data', (chunk: Buffer) => {
    length += chunk.length;
    if (length > limitBytes) {
      settled = true;
      done(tooLarge(limitBytes), undefined);
      req.removeAllListeners('data');
      req.resume();
      return;
    }
    if (first === undefined) first = chunk;
    else (rest ??= [first]).push(chunk);
  });
  req.on('end', () => {
    if (settled) return;
    settled = true;
    // A small body arrives in one chunk; concatenating would copy it for nothing.
    done(undefined, rest !== undefined ? Buffer.concat(rest) : (first ?? Buffer.alloc(0)));
  });
  req.on('error', (err) => {
    if (settled) return;
    settled = true;
    done(err, undefined);
  });
}

const tooLarge = (limitBytes: number) => new RequestRefused(413, `body must be at most ${limitBytes} bytes`);

/** Reads a request body up to `limitBytes`; a longer one is refused without keeping the rest. */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    collectBody(req, limitBytes, (err, body) => (err === undefined ? resolve(body!) : reject(err)));
  });
}
