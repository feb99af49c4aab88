import {
  request as httpRequest,
  type Agent as HttpAgent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { type Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Transform, type TransformCallback } from 'node:stream';
import { PipelineError } from '../pipeline/types.js';

/** RFC 9110 §7.6.1: meaningful for one connection only, never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function connectionTokens(headers: IncomingHttpHeaders): Set<string> {
  const value = headers.connection;
  return new Set(
    (value ?? '')
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
}

/**
 * The upstream URL of a request: the rule's upstream URL, its path joined with the request path
 * after `strip_path` is taken off the front, the query kept.
 * https://www.ory.sh/docs/oathkeeper/api-access-rules (upstream.strip_path)
 */
export function upstreamUrl(upstream: URL, stripPath: string | undefined, path: string, search: string): URL {
  const rest = stripPath && path.startsWith(stripPath) ? path.slice(stripPath.length) : path;
  const joined = `${upstream.pathname.replace(/\/+$/, '')}/${rest.replace(/^\/+/, '')}`;
  const target = new URL(upstream.origin);
  target.pathname = joined
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
  target.search = search;
  return target;
}

export interface UpstreamHeaderOptions {
  /** Forward the client's Authorization (only when the authenticator left it untouched). */
  forwardCredentials: boolean;
  /** The client's Host when the rule preserves it; otherwise the upstream's own host is sent. */
  host: string;
  /** Headers the mutators set; they win over anything the client sent. */
  mutated: Record<string, string>;
  forwardedFor: string;
  forwardedProto: string;
  forwardedHost: string;
  requestId: string;
}

/**
 * The headers an upstream receives. A client can never speak for the gateway: identity headers
 * (`X-User-*`), forwarding headers and, unless the rule says so, its Authorization are dropped
 * before the mutators write theirs.
 */
export function upstreamHeaders(
  incoming: IncomingHttpHeaders,
  options: UpstreamHeaderOptions,
): OutgoingHttpHeaders {
  const dropped = connectionTokens(incoming);
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || dropped.has(name)) continue;
    if (name.startsWith('x-user-') || name.startsWith('x-forwarded-') || name === 'forwarded') continue;
    if (name === 'x-real-ip' || name === 'host' || name === 'x-request-id') continue;
    if (name === 'authorization' && !options.forwardCredentials) continue;
    headers[name] = value;
  }
  Object.assign(headers, options.mutated, {
    host: options.host,
    'x-forwarded-for': options.forwardedFor,
    'x-forwarded-proto': options.forwardedProto,
    'x-forwarded-host': options.forwardedHost,
    'x-request-id': options.requestId,
  });
  return headers;
}

/** Upstream response headers minus hop-by-hop ones and the upstream's software banners. */
export function downstreamHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const dropped = connectionTokens(incoming);
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || dropped.has(name)) continue;
    if (name === 'server' || name === 'x-powered-by') continue;
    headers[name] = value;
  }
  return headers;
}

class BodyTooLarge extends Error {}

/** Counts body bytes on their way through and stops the stream past the limit. */
class BodyLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) done(new BodyTooLarge());
    else done(null, chunk);
  }
}

export const tooLarge = (limit: number) =>
  new PipelineError(413, `Request body exceeds ${limit} bytes`, 'request body over the limit');

export interface ForwardOptions {
  target: URL;
  headers: OutgoingHttpHeaders;
  maxBodyBytes: number;
  timeoutMs: number;
  agents: { http: HttpAgent; https: HttpsAgent };
  /** Answers a refusal that happens before the upstream's response has started. */
  refuse(error: PipelineError): void;
}

/**
 * Streams the request to the upstream and the response back, both ways without buffering. Resolves
 * once the exchange is over, whichever way it ended.
 */
export function forward(req: IncomingMessage, res: ServerResponse, options: ForwardOptions): Promise<void> {
  const { target } = options;
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let settled = false;
    const fail = (error: PipelineError) => {
      if (settled) return;
      settled = true;
      if (!res.headersSent) options.refuse(error);
      else res.destroy();
      resolve();
    };
    const upstream = send(
      target,
      {
        method: req.method,
        headers: options.headers,
        agent: target.protocol === 'https:' ? options.agents.https : options.agents.http,
        timeout: options.timeoutMs,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, downstreamHeaders(answer.headers));
        answer.pipe(res);
        answer.on('error', () => res.destroy());
        res.on('close', () => {
          if (!answer.complete) answer.destroy();
          settled = true;
          resolve();
        });
      },
    );
    upstream.on('timeout', () => {
      upstream.destroy();
      fail(new PipelineError(504, 'Upstream did not answer in time', `upstream ${target.host} timed out`));
    });
    upstream.on('error', (err) =>
      fail(new PipelineError(502, 'Upstream is unavailable', `upstream ${target.host}: ${err.message}`)),
    );
    const limit = new BodyLimit(options.maxBodyBytes);
    limit.on('error', (err) => {
      upstream.destroy();
      if (err instanceof BodyTooLarge) {
        res.setHeader('connection', 'close');
        fail(tooLarge(options.maxBodyBytes));
      }
    });
    req.on('close', () => {
      if (!req.complete) upstream.destroy();
    });
    req.pipe(limit).pipe(upstream);
  });
}
