import { maxHeaderSize, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import {
  DirectExchange,
  JSON_TYPE,
  type BoundRoute,
  type DirectJsonRoute,
  type PreparedAnswer,
  type RouterContext,
} from './direct-route.js';
import {
  dateHeaderLine,
  FOREIGN,
  HEAD_END,
  INCOMPLETE,
  readRequestHead,
  responseHead,
  type HeadLimits,
  type RequestHead,
} from './http1.js';

/**
 * Serves the direct routes' requests straight off the connection, for a broker that sends one
 * webhook call per MQTT packet over a pool of keep-alive connections.
 *
 * Written here rather than taken from node:http because of what bench/cert-service measured on
 * the 2-core machine: a bare node:http server answering a fixed body spent 56-60 µs of CPU per
 * request at 15,000/s and its p99 missed 5 ms, where a bare `net` server answering the same bytes
 * spent 31 µs with a p99 of 1.4 ms. The difference is node:http's per-request objects, streams and
 * timers, none of which a fixed JSON answer needs.
 *
 * It reads only what it can read without doubt (see http1.ts): at the first request it does not
 * take, the connection, with that request's bytes unread, goes to node:http for good, which parses,
 * refuses or routes it as before. Shutdown, idle and slow-request timeouts, back-pressure and
 * pipelined requests (answered in order) are kept as node:http keeps them.
 */
export class DirectConnections {
  private readonly open = new Set<DirectConnection>();
  private closing = false;
  private keepAliveSeconds = -1;
  private keepAliveText = '';
  readonly limits: HeadLimits;

  constructor(
    private readonly server: Server,
    private readonly routes: ReadonlyMap<string, DirectJsonRoute>,
    private readonly bind: (route: DirectJsonRoute) => BoundRoute,
    private readonly context: RouterContext,
  ) {
    this.limits = { maxHeadBytes: maxHeaderSize, maxBodyBytes: context.bodyLimitBytes };
  }

  /** Puts this ahead of node:http's own connection handling on `server`. */
  install(): void {
    const { server } = this;
    const nodeListeners = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    const toNode = (socket: Socket) => {
      for (const listener of nodeListeners) listener.call(server, socket);
    };
    server.on('connection', (socket: Socket) => {
      if (this.closing) return toNode(socket);
      const connection = new DirectConnection(socket, this, toNode);
      this.open.add(connection);
      connection.start();
    });
    // node:http's close() closes its idle connections, and its grace period all of them; these
    // connections are not in its list, so they are told here.
    const closeIdle = server.closeIdleConnections.bind(server);
    const closeAll = server.closeAllConnections.bind(server);
    server.closeIdleConnections = () => {
      this.closing = true;
      for (const connection of this.open) connection.closeWhenIdle();
      closeIdle();
    };
    server.closeAllConnections = () => {
      this.closing = true;
      for (const connection of this.open) connection.destroy();
      closeAll();
    };
  }

  get isClosing(): boolean {
    return this.closing;
  }

  get keepAliveTimeout(): number {
    return this.server.keepAliveTimeout;
  }

  /**
   * As node:http says it: clients (undici) keep an idle connection for as long as this announces,
   * and for only a few seconds when it announces nothing.
   */
  get keepAliveLines(): string {
    const seconds = Math.floor(this.server.keepAliveTimeout / 1000);
    if (seconds !== this.keepAliveSeconds) {
      this.keepAliveSeconds = seconds;
      this.keepAliveText = `connection: keep-alive\r\n${seconds > 0 ? `keep-alive: timeout=${seconds}\r\n` : ''}`;
    }
    return this.keepAliveText;
  }

  get headersTimeout(): number {
    return this.server.headersTimeout;
  }

  routeFor(path: string): BoundRoute | undefined {
    const route = this.routes.get(path);
    return route === undefined ? undefined : this.bind(route);
  }

  has(path: string): boolean {
    return this.routes.has(path);
  }

  get logger(): Logger {
    return this.context.logger;
  }

  forget(connection: DirectConnection): void {
    this.open.delete(connection);
  }
}

const EMPTY = Buffer.alloc(0);
const CLOSE_LINE = 'connection: close\r\n';
const REQUEST_TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';

/** One client connection while its requests are read here. */
class DirectConnection {
  /** The bytes read and not yet answered, joined. */
  private buffer: Buffer = EMPTY;
  /**
   * Chunks read since, not yet joined to `buffer`: they are joined once a head could be complete
   * or the body is, so that a request sent a few bytes at a time is copied once, not once a chunk.
   */
  private arriving: Buffer[] = [];
  private arrivingBytes = 0;
  /** The last three bytes of `arriving`, to find a head's end that straddles two chunks. */
  private tail: Buffer = EMPTY;
  /** The head of the request whose body is still arriving, and its route. */
  private head: RequestHead | undefined;
  private headRoute: BoundRoute | undefined;
  /** A request is with its route; later ones wait, to be answered in order. */
  private busy = false;
  private ended = false;
  private closeAfterAnswer = false;
  private requestStarted = 0;
  /** Inside serveWaiting: an answer given at once must not start it again (pipelined requests). */
  private serving = false;
  private handedOff = false;

  /** What this listens to on the socket while it reads the requests, handed back with it. */
  private readonly listeners: [string, ((chunk: Buffer) => void) | (() => void)][] = [
    ['data', (chunk: Buffer) => this.received(chunk)],
    [
      'end',
      () => {
        this.ended = true;
        if (!this.busy) this.endIfDone();
      },
    ],
    ['timeout', () => this.timedOut()],
    ['error', () => this.socket.destroy()],
    ['close', () => this.owner.forget(this)],
    [
      'drain',
      () => {
        if (!this.busy) this.socket.resume();
      },
    ],
  ];

  constructor(
    private readonly socket: Socket,
    private readonly owner: DirectConnections,
    private readonly toNode: (socket: Socket) => void,
  ) {}

  start(): void {
    const { socket } = this;
    socket.setNoDelay(true);
    socket.setTimeout(this.owner.keepAliveTimeout);
    for (const [event, listener] of this.listeners) socket.on(event, listener);
  }

  closeWhenIdle(): void {
    if (!this.busy && this.unread === 0) this.socket.end();
    else this.closeAfterAnswer = true;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Bytes read and not yet answered. */
  private get unread(): number {
    return this.buffer.length + this.arrivingBytes;
  }

  private received(chunk: Buffer): void {
    if (this.unread === 0) {
      this.requestStarted = performance.now();
      this.buffer = chunk;
      return this.serveWaiting();
    }
    const before = this.arriving.length === 0 ? this.buffer.subarray(-3) : this.tail;
    const edge = Buffer.concat([before, chunk.subarray(0, 3)]);
    this.tail = chunk.length >= 3 ? chunk.subarray(-3) : Buffer.concat([before, chunk]).subarray(-3);
    this.arriving.push(chunk);
    this.arrivingBytes += chunk.length;
    if (this.busy) return this.pauseIfFar();
    const { head } = this;
    const worthReading = head
      ? this.unread >= head.headLength + head.bodyLength
      : this.unread >= this.owner.limits.maxHeadBytes || chunk.includes(HEAD_END) || edge.includes(HEAD_END);
    if (!worthReading) return this.checkSlow();
    this.serveWaiting();
  }

  /** Joins what arrived to the buffer. */
  private join(): void {
    if (this.arriving.length === 0) return;
    this.buffer = Buffer.concat([this.buffer, ...this.arriving]);
    this.arriving = [];
    this.arrivingBytes = 0;
  }

  /** Serves the complete requests in the buffer, one at a time, until one must wait. */
  private serveWaiting(): void {
    this.serving = true;
    try {
      this.join();
      this.serveEach();
    } catch (err) {
      // A fault of this reader, thrown from a socket callback, would end the process: this
      // connection ends instead, and the log says why.
      this.owner.logger.error({ err }, 'direct connection failed');
      this.socket.destroy();
    } finally {
      this.serving = false;
    }
    if (!this.busy) this.endIfDone();
  }

  private serveEach(): void {
    while (!this.busy && this.buffer.length > 0 && this.socket.writable) {
      if (this.head === undefined) {
        const head = readRequestHead(this.buffer, this.owner, this.owner.limits);
        if (head === INCOMPLETE) return this.checkSlow();
        // Refusals (415 here) are node:http's to give, with the rest of the route's checks.
        const bound = head === FOREIGN ? undefined : this.owner.routeFor(head.path);
        if (head === FOREIGN || bound === undefined || !JSON_TYPE.test(head.headers['content-type'] ?? '')) {
          return this.handToNode();
        }
        this.head = head;
        this.headRoute = bound;
      }
      const { head, headRoute } = this;
      const end = head.headLength + head.bodyLength;
      if (this.buffer.length < end) return this.checkSlow();
      const body = this.buffer.subarray(head.headLength, end);
      this.buffer = this.buffer.length === end ? EMPTY : this.buffer.subarray(end);
      this.head = undefined;
      this.headRoute = undefined;
      if (this.buffer.length > 0) this.requestStarted = performance.now();
      this.serve(headRoute!, head, body);
    }
    this.pauseIfFar();
  }

  /** A client pipelining far ahead of its answers waits, as it would with node:http. */
  private pauseIfFar(): void {
    const { maxHeadBytes, maxBodyBytes } = this.owner.limits;
    if (this.busy && this.unread > maxHeadBytes + maxBodyBytes) this.socket.pause();
  }

  private serve(bound: BoundRoute, head: RequestHead, body: Buffer): void {
    if (head.close || this.owner.isClosing) this.closeAfterAnswer = true;
    this.busy = true;
    new ConnectionExchange(bound, head, this).received(body);
  }

  /** Sends one answer; called once per request, in order, by its exchange. */
  answer(text: string, close: boolean): void {
    const { socket } = this;
    this.busy = false;
    if (!socket.writable) return;
    if (close || this.closeAfterAnswer) {
      // Requests after this one are not answered, as HTTP/1.1 says of `connection: close`.
      this.buffer = EMPTY;
      this.arriving = [];
      this.arrivingBytes = 0;
      socket.end(text);
      return;
    }
    if (!socket.write(text)) socket.pause();
    else if (socket.isPaused()) socket.resume();
    if (!this.serving) this.serveWaiting();
  }

  /** The client has sent its last byte: end once nothing it sent is left to answer. */
  private endIfDone(): void {
    if (!this.ended || this.handedOff || this.socket.writableEnded) return;
    // A request cut short by the client's end is not answered, as node:http answers none.
    this.socket.end();
  }

  get closing(): boolean {
    return this.closeAfterAnswer;
  }

  /** The header lines that say whether the connection stays open after this answer. */
  persistence(close: boolean): string {
    return close ? CLOSE_LINE : this.owner.keepAliveLines;
  }

  abort(): void {
    this.socket.destroy();
  }

  /** A request that has taken longer than node:http allows a head to take is refused, as there. */
  private checkSlow(): void {
    if (performance.now() - this.requestStarted <= this.owner.headersTimeout) return;
    this.socket.end(REQUEST_TIMEOUT);
  }

  private timedOut(): void {
    // Idle past the keep-alive timeout, or a request that stopped arriving: node:http closes both.
    if (this.busy) return;
    if (this.unread === 0) this.socket.destroy();
    else this.socket.end(REQUEST_TIMEOUT);
  }

  /** node:http takes the connection from the first byte not yet answered, for good. */
  private handToNode(): void {
    const { socket } = this;
    for (const [event, listener] of this.listeners) socket.off(event, listener);
    this.handedOff = true;
    socket.setTimeout(0);
    this.owner.forget(this);
    socket.pause();
    this.join();
    if (this.buffer.length > 0) socket.unshift(this.buffer);
    this.buffer = EMPTY;
    this.toNode(socket);
    socket.resume();
  }
}

/** A direct request read off the connection, answered on it. */
class ConnectionExchange extends DirectExchange {
  private sent = false;

  constructor(
    bound: BoundRoute,
    head: RequestHead,
    private readonly connection: DirectConnection,
  ) {
    super(bound, 'POST', head.headers);
  }

  protected write(status: number, headers: OutgoingHttpHeaders, text: string): void {
    const close = headers.connection === 'close' || this.connection.closing;
    const { connection: _given, ...rest } = headers;
    this.deliver(
      `${responseHead(status, rest)}${this.connection.persistence(close)}${dateHeaderLine()}\r\n${text}`,
      close,
    );
  }

  protected writePrepared(answer: PreparedAnswer): void {
    const close = this.connection.closing;
    this.deliver(
      `${answer.head}${this.connection.persistence(close)}${dateHeaderLine()}\r\n${answer.text}`,
      close,
    );
  }

  protected abort(): void {
    this.sent = true;
    this.connection.abort();
  }

  protected get answered(): boolean {
    return this.sent;
  }

  private deliver(text: string, close: boolean): void {
    this.sent = true;
    this.connection.answer(text, close);
  }
}
