import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { ServiceMetrics } from '../metrics.js';
import { collectBody, jsonHeaders, RequestRefused, sendJson } from '../http.js';

/** What a direct route answers: always JSON. */
export interface DirectAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * An answer serialized once, for the few answers a route gives again and again (a broker's `ok`
 * and `not_allowed`): sending it costs no JSON.stringify, no header object and no length count.
 * Kept as text rather than a Buffer: node:http joins a string body to its header block and sends
 * both with one write, where a Buffer body takes a vectored write of the two.
 */
export class PreparedAnswer {
  readonly text: string;
  readonly headers: OutgoingHttpHeaders;

  constructor(
    readonly status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) {
    this.text = JSON.stringify(body);
    this.headers = jsonHeaders(this.text, headers);
  }
}

type RouteAnswer = DirectAnswer | PreparedAnswer;

/**
 * A JSON POST route served straight from node:http, ahead of Fastify and Nest. For machine calls
 * at a rate where the frameworks' per-request pipeline is the cost (a broker's webhooks, one call
 * per MQTT packet): the route gets no guards, pipes, interceptors, request id nor access log line,
 * only the request duration metric, so it must check what it needs itself.
 */
export interface DirectJsonRoute {
  path: string;
  /**
   * Given the parsed body; a throw or a rejection is answered 500 without detail and logged. An
   * answer known without waiting may be returned as is: a promise per request is a cost here.
   */
  handle(body: unknown, headers: IncomingHttpHeaders): RouteAnswer | Promise<RouteAnswer>;
  /** Told why a request never reached `handle` (not JSON, too large), for the service's own log line. */
  onRefused?(reason: string, headers: IncomingHttpHeaders): void;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

interface RouterContext {
  logger: Logger;
  metrics: ServiceMetrics;
  bodyLimitBytes: number;
}

type Recorder = (req: IncomingMessage, res: ServerResponse, seconds: number) => void;

/**
 * One route's request duration series, bound once per status: at a broker's rate, building and
 * stringifying a label object per request showed in the profile. Other methods are refusals,
 * rare, and observed unbound so that no client can make a series cached here.
 */
function durationRecorder(metrics: ServiceMetrics, route: string): Recorder {
  const posts = new Map<number, { observe(seconds: number): void }>();
  return (req, res, seconds) => {
    const status = res.statusCode;
    if (req.method !== 'POST') {
      metrics.httpRequestDuration.observe(
        { method: req.method ?? 'UNKNOWN', route, status_code: String(status) },
        seconds,
      );
      return;
    }
    let series = posts.get(status);
    if (series === undefined) {
      series = metrics.httpRequestDuration.labels({ method: 'POST', route, status_code: String(status) });
      posts.set(status, series);
    }
    series.observe(seconds);
  };
}

/** One request on a direct route, from its first byte to the recorded duration. */
class DirectRequest {
  private readonly started = performance.now();

  constructor(
    private readonly route: DirectJsonRoute,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly context: RouterContext,
    private readonly record: Recorder,
  ) {}

  serve(): void {
    const { req } = this;
    if (req.method !== 'POST') {
      return this.refuse(new RequestRefused(405, `${this.route.path} accepts POST only`));
    }
    if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) {
      return this.refuse(new RequestRefused(415, 'content-type must be application/json'));
    }
    collectBody(req, this.context.bodyLimitBytes, (err, raw) => this.received(err, raw));
  }

  private received(err: Error | undefined, raw: Buffer | undefined): void {
    if (err !== undefined) return this.refuse(err);
    if (raw === undefined || raw.length === 0) return this.refuse(new RequestRefused(400, 'body is empty'));
    let body: unknown;
    try {
      // JSON.parse makes `__proto__` an own property, never the prototype; handlers validate the
      // shape with a schema that copies known keys only.
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return this.refuse(new RequestRefused(400, 'body is not valid JSON'));
    }
    let answer: RouteAnswer | Promise<RouteAnswer>;
    try {
      answer = this.route.handle(body, this.req.headers);
    } catch (failure) {
      return this.failed(failure);
    }
    if (answer instanceof Promise) {
      answer.then(
        (settled) => this.send(settled),
        (failure: unknown) => this.failed(failure),
      );
    } else {
      this.send(answer);
    }
  }

  private send(answer: RouteAnswer): void {
    const { res } = this;
    try {
      if (answer instanceof PreparedAnswer) {
        res.writeHead(answer.status, answer.headers);
        res.end(answer.text);
      } else {
        sendJson(res, answer.status, answer.body, answer.headers);
      }
    } catch (err) {
      // A body JSON cannot express, or a header node:http refuses: the route's fault, not the
      // process's, which would otherwise end on an exception thrown from a stream callback.
      return this.failed(err);
    }
    this.done();
  }

  /** A request that never reached the route: not POST, not JSON, too large, unreadable. */
  private refuse(err: Error): void {
    // A stream error is no refusal of ours; the connection is gone or going.
    if (!(err instanceof RequestRefused)) return this.failed(err);
    try {
      this.route.onRefused?.(err.message, this.req.headers);
    } catch (failure) {
      return this.failed(failure);
    }
    const headers: Record<string, string> = err.status === 405 ? { allow: 'POST' } : {};
    // The rest of an oversized body is not worth reading on this connection.
    if (err.status === 413) headers.connection = 'close';
    sendJson(this.res, err.status, { statusCode: err.status, message: err.message }, headers);
    this.done();
  }

  private failed(err: unknown): void {
    const { res } = this;
    this.context.logger.error({ err, route: this.route.path }, 'unhandled error');
    if (!res.headersSent) sendJson(res, 500, { statusCode: 500, message: 'internal error' });
    else res.destroy();
    this.done();
  }

  private done(): void {
    this.record(this.req, this.res, (performance.now() - this.started) / 1000);
  }
}

/**
 * The request listener for a service with direct routes: those paths (exactly, no query) are
 * served here, everything else by `fallback` (Fastify).
 */
export function directRouter(
  routes: ReadonlyMap<string, DirectJsonRoute>,
  fallback: (req: IncomingMessage, res: ServerResponse) => void,
  context: RouterContext,
): (req: IncomingMessage, res: ServerResponse) => void {
  // Routes may be added after this listener is made (bootstrap fills them once the app exists).
  const recorders = new Map<DirectJsonRoute, Recorder>();
  const recorderOf = (route: DirectJsonRoute) => {
    let recorder = recorders.get(route);
    if (recorder === undefined) {
      recorder = durationRecorder(context.metrics, route.path);
      recorders.set(route, recorder);
    }
    return recorder;
  };
  return (req, res) => {
    const route = routes.get(req.url ?? '');
    if (route === undefined) return fallback(req, res);
    new DirectRequest(route, req, res, context, recorderOf(route)).serve();
  };
}
