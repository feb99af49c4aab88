import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { ServiceMetrics } from '../metrics.js';
import { collectBody, jsonHeaders, RequestRefused } from '../http.js';
import { responseHead } from './http1.js';

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
  /** Status line and header lines as DirectConnection sends them, ahead of the date. */
  readonly head: string;

  constructor(
    readonly status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) {
    this.text = JSON.stringify(body);
    this.headers = jsonHeaders(this.text, headers);
    this.head = responseHead(status, this.headers);
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

export const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

export interface RouterContext {
  logger: Logger;
  metrics: ServiceMetrics;
  bodyLimitBytes: number;
}

/** Records one request's duration, by method and status. */
export type Recorder = (method: string, status: number, seconds: number) => void;

/**
 * One route's request duration series, bound once per status: at a broker's rate, building and
 * stringifying a label object per request showed in the profile. Other methods are refusals,
 * rare, and observed unbound so that no client can make a series cached here.
 */
function durationRecorder(metrics: ServiceMetrics, route: string): Recorder {
  const posts = new Map<number, { observe(seconds: number): void }>();
  return (method, status, seconds) => {
    if (method !== 'POST') {
      metrics.httpRequestDuration.observe({ method, route, status_code: String(status) }, seconds);
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

/** A direct route with what serving it needs: shared by node:http and by DirectConnection. */
export class BoundRoute {
  constructor(
    readonly route: DirectJsonRoute,
    readonly context: RouterContext,
    readonly record: Recorder,
  ) {}
}

/**
 * One request on a direct route, from its complete body to the recorded duration, whichever
 * transport carries it: node:http's response (NodeExchange), or a connection read by
 * DirectConnection. The transport writes; the route's rules for answers, refusals and failures
 * live here once.
 */
export abstract class DirectExchange {
  private readonly started = performance.now();

  constructor(
    protected readonly bound: BoundRoute,
    readonly method: string,
    readonly headers: IncomingHttpHeaders,
  ) {}

  /** Writes a whole answer; throws, having written nothing, when it cannot be sent. */
  protected abstract write(status: number, headers: OutgoingHttpHeaders, text: string): void;
  /** Writes a prepared answer. */
  protected abstract writePrepared(answer: PreparedAnswer): void;
  /** Ends the exchange without an answer, once part of one has left. */
  protected abstract abort(): void;
  protected abstract get answered(): boolean;

  /** Given the complete body: parses it, asks the route, and sends what the route answers. */
  received(raw: Buffer): void {
    if (raw.length === 0) return this.refuse(new RequestRefused(400, 'body is empty'));
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
      answer = this.bound.route.handle(body, this.headers);
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
    let status: number;
    try {
      if (answer instanceof PreparedAnswer) {
        this.writePrepared(answer);
      } else {
        const text = JSON.stringify(answer.body);
        this.write(answer.status, jsonHeaders(text, answer.headers), text);
      }
      status = answer.status;
    } catch (err) {
      // A body JSON cannot express, or a header refused: the route's fault, not the process's,
      // which would otherwise end on an exception thrown from a stream callback.
      return this.failed(err);
    }
    this.done(status);
  }

  /** A request that never reached the route: not POST, not JSON, too large, unreadable. */
  refuse(err: Error): void {
    // A stream error is no refusal of ours; the connection is gone or going.
    if (!(err instanceof RequestRefused)) return this.failed(err);
    try {
      this.bound.route.onRefused?.(err.message, this.headers);
    } catch (failure) {
      return this.failed(failure);
    }
    const headers: Record<string, string> = err.status === 405 ? { allow: 'POST' } : {};
    // The rest of an oversized body is not worth reading on this connection.
    if (err.status === 413) headers.connection = 'close';
    this.writeJson(err.status, { statusCode: err.status, message: err.message }, headers);
    this.done(err.status);
  }

  private failed(err: unknown): void {
    this.bound.context.logger.error({ err, route: this.bound.route.path }, 'unhandled error');
    if (!this.answered) this.writeJson(500, { statusCode: 500, message: 'internal error' });
    else this.abort();
    this.done(500);
  }

  private writeJson(status: number, body: unknown, headers?: Record<string, string>): void {
    const text = JSON.stringify(body);
    this.write(status, jsonHeaders(text, headers), text);
  }

  private done(status: number): void {
    this.bound.record(this.method, status, (performance.now() - this.started) / 1000);
  }
}

/** A direct request node:http parsed, answered through its ServerResponse. */
class NodeExchange extends DirectExchange {
  constructor(
    bound: BoundRoute,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    super(bound, req.method ?? 'UNKNOWN', req.headers);
  }

  serve(): void {
    const { req } = this;
    if (req.method !== 'POST') {
      return this.refuse(new RequestRefused(405, `${this.bound.route.path} accepts POST only`));
    }
    if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) {
      return this.refuse(new RequestRefused(415, 'content-type must be application/json'));
    }
    collectBody(req, this.bound.context.bodyLimitBytes, (err, raw) =>
      err !== undefined || raw === undefined ? this.refuse(err ?? new Error('no body')) : this.received(raw),
    );
  }

  protected write(status: number, headers: OutgoingHttpHeaders, text: string): void {
    this.res.writeHead(status, headers);
    this.res.end(text);
  }

  protected writePrepared(answer: PreparedAnswer): void {
    this.res.writeHead(answer.status, answer.headers);
    this.res.end(answer.text);
  }

  protected abort(): void {
    this.res.destroy();
  }

  protected get answered(): boolean {
    return this.res.headersSent;
  }
}

/** Binds each route to its duration series once, however many connections serve it. */
export function routeBinder(context: RouterContext): (route: DirectJsonRoute) => BoundRoute {
  // Routes may be added after the listener is made (bootstrap fills them once the app exists).
  const bound = new Map<DirectJsonRoute, BoundRoute>();
  return (route) => {
    let entry = bound.get(route);
    if (entry === undefined) {
      entry = new BoundRoute(route, context, durationRecorder(context.metrics, route.path));
      bound.set(route, entry);
    }
    return entry;
  };
}

/**
 * The request listener for a service with direct routes: those paths (exactly, no query) are
 * served here, everything else by `fallback` (Fastify).
 */
export function directRouter(
  routes: ReadonlyMap<string, DirectJsonRoute>,
  fallback: (req: IncomingMessage, res: ServerResponse) => void,
  context: RouterContext,
  bind: (route: DirectJsonRoute) => BoundRoute = routeBinder(context),
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const route = routes.get(req.url ?? '');
    if (route === undefined) return fallback(req, res);
    new NodeExchange(bind(route), req, res).serve();
  };
}
