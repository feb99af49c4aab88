import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeServer } from '../http.js';
import { createMetrics } from '../metrics.js';
import { capturingLogger, recordingRoutes } from '../testing/index.js';
import { DirectConnections } from './direct-connection.js';
import { directRouter, routeBinder } from './direct-route.js';

const { logger, lines } = capturingLogger();
const metrics = createMetrics('test');

const { routes, handled, release, slowWaiting, reset } = recordingRoutes();
/** Requests node:http's listener saw: anything served here must not appear. */
let nodeRequests: string[];

let server: Server;
let port: number;

beforeEach(async () => {
  reset();
  nodeRequests = [];
  lines.length = 0;
  const context = { logger, metrics, bodyLimitBytes: 64 };
  const bind = routeBinder(context);
  const router = directRouter(
    routes,
    (req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`fallback ${req.method} ${req.url}`);
    },
    context,
    bind,
  );
  server = createServer((req, res) => {
    nodeRequests.push(`${req.method} ${req.url}`);
    router(req, res);
  });
  new DirectConnections(server, routes, bind, context).install();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterEach(() => closeServer(server, 100));

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A raw connection: writes bytes as given and reads answers by their content-length. */
class RawClient {
  readonly socket: Socket;
  private received = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  readonly closed: Promise<void>;

  constructor() {
    // Each write its own segment: tests that split a request mean the service to see the pieces.
    this.socket = connect({ port, host: '127.0.0.1', noDelay: true });
    this.socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      for (const waiter of this.waiters.splice(0)) waiter();
    });
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve()));
    this.socket.on('close', () => {
      for (const waiter of this.waiters.splice(0)) waiter();
    });
  }

  write(text: string): this {
    this.socket.write(text);
    return this;
  }

  /** The next `count` answers; rejects when the connection closes first. */
  async answers(count: number): Promise<Answer[]> {
    const answers: Answer[] = [];
    while (answers.length < count) {
      const answer = this.take();
      if (answer !== undefined) {
        answers.push(answer);
        continue;
      }
      if (this.socket.destroyed || this.socket.readableEnded) {
        throw new Error(`connection closed after ${answers.length} answers`);
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return answers;
  }

  async answer(): Promise<Answer> {
    return (await this.answers(1))[0]!;
  }

  private take(): Answer | undefined {
    const end = this.received.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine, ...fields] = this.received.toString('latin1', 0, end).split('\r\n');
    const headers = Object.fromEntries(
      fields.map((field) => {
        const colon = field.indexOf(':');
        return [field.slice(0, colon).toLowerCase(), field.slice(colon + 1).trim()];
      }),
    );
    const length = Number(headers['content-length'] ?? 0);
    if (this.received.length < end + 4 + length) return undefined;
    const body = this.received.toString('utf8', end + 4, end + 4 + length);
    this.received = this.received.subarray(end + 4 + length);
    return { status: Number(statusLine!.split(' ')[1]), headers, body };
  }
}

const post = (path: string, body: string, extra: string[] = []) =>
  [
    `POST ${path} HTTP/1.1`,
    'host: cert-service',
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    'x-hook: auth_on_publish',
    ...extra,
  ].join('\r\n') + `\r\n\r\n${body}`;

describe('DirectConnections', () => {
  it('serves a request off the connection, without node:http, as node:http would answer it', async () => {
    const answer = await new RawClient().write(post('/fixed', '{"a":1}')).answer();
    expect(answer).toEqual({
      status: 200,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'content-length': '15',
        'cache-control': 'max-age=5',
        connection: 'keep-alive',
        'keep-alive': `timeout=${Math.floor(server.keepAliveTimeout / 1000)}`,
        date: expect.stringMatching(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/),
      },
      body: '{"result":"ok"}',
    });
    expect(handled).toEqual([{ a: 1 }]);
    expect(nodeRequests).toEqual([]);
  });

  it('gives the route the headers, lower-cased, and sends its own answer and status', async () => {
    const request = post('/hook', '{"b":2}').replace('x-hook', 'X-Hook');
    const answer = await new RawClient().write(request).answer();
    expect(answer.status).toBe(200);
    expect(answer.headers['x-extra']).toBe('yes');
    expect(JSON.parse(answer.body)).toEqual({ got: { b: 2 }, hook: 'auth_on_publish' });
  });

  it('answers pipelined requests in order, a slow one holding back those behind it', async () => {
    const client = new RawClient().write(
      post('/slow', '{"n":1}') + post('/fixed', '{"n":2}') + post('/hook', '{"n":3}'),
    );
    const answers = client.answers(3);
    await slowWaiting();
    // Time for the requests behind it to be (wrongly) handled, were they not held back.
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(handled).toEqual([{ n: 1 }]);
    release();
    expect((await answers).map((a) => JSON.parse(a.body))).toEqual([
      { slow: { n: 1 } },
      { result: 'ok' },
      { got: { n: 3 }, hook: 'auth_on_publish' },
    ]);
    expect(nodeRequests).toEqual([]);
  });

  it('answers many pipelined requests given at once without growing the stack', async () => {
    const count = 5_000;
    const answers = await new RawClient().write(post('/fixed', '{}').repeat(count)).answers(count);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(handled).toHaveLength(count);
  });

  it('answers a client that pipelines far ahead of its answers, and loses nothing', async () => {
    const count = 1_000; // about 150 KB behind one pending answer
    const client = new RawClient().write(post('/slow', '{}') + post('/fixed', '{}').repeat(count));
    const answers = client.answers(count + 1);
    await slowWaiting();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(handled).toHaveLength(1);
    release();
    expect((await answers).every((a) => a.status === 200)).toBe(true);
    expect(handled).toHaveLength(count + 1);
  });

  it('reads a request that arrives a byte at a time', async () => {
    const client = new RawClient();
    await once(client.socket, 'connect');
    const answer = client.answer();
    for (const byte of post('/fixed', '{"split":true}')) {
      client.write(byte);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect((await answer).body).toBe('{"result":"ok"}');
    expect(handled).toEqual([{ split: true }]);
  });

  it.each([
    ['its head split at the blank line', (r: string) => [r.indexOf('\r\n\r\n') + 2]],
    ['its body in pieces', (r: string) => [r.length - 9, r.length - 6, r.length - 3]],
    ['a piece holding its end and the next request’s start', (r: string) => [r.length - 2, r.length + 5]],
  ])('reads a request with %s', async (_name, cutsOf) => {
    const one = post('/fixed', '{"cut":true}');
    const bytes = one + one;
    const cuts = [0, ...cutsOf(one), bytes.length];
    const client = new RawClient();
    await once(client.socket, 'connect');
    const answers = client.answers(2);
    for (let i = 1; i < cuts.length; i++) {
      client.write(bytes.slice(cuts[i - 1], cuts[i]));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect((await answers).map((a) => a.body)).toEqual(['{"result":"ok"}', '{"result":"ok"}']);
    expect(handled).toEqual([{ cut: true }, { cut: true }]);
    expect(nodeRequests).toEqual([]);
  });

  it('hands the connection to node:http at the first request it does not read, for good', async () => {
    const client = new RawClient();
    client.write(
      post('/fixed', '{"n":1}') + 'GET /health HTTP/1.1\r\nhost: x\r\n\r\n' + post('/fixed', '{"n":2}'),
    );
    const answers = await client.answers(3);
    expect(answers.map((a) => a.body)).toEqual([
      '{"result":"ok"}',
      'fallback GET /health',
      '{"result":"ok"}',
    ]);
    expect(nodeRequests).toEqual(['GET /health', 'POST /fixed']);
    // Bytes that arrive later reach node:http's parser too.
    expect((await client.write(post('/hook', '{"n":3}')).answer()).status).toBe(200);
    expect(nodeRequests).toEqual(['GET /health', 'POST /fixed', 'POST /hook']);
    expect(handled).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it.each([
    [
      'a chunked body',
      'POST /hook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n7\r\n{"c":3}\r\n0\r\n\r\n',
      200,
      'POST /hook',
    ],
    [
      'HTTP/1.0',
      'POST /fixed HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}',
      200,
      'POST /fixed',
    ],
    [
      'another content type',
      post('/fixed', '{}').replace('application/json', 'text/plain'),
      415,
      'POST /fixed',
    ],
    ['a body over the limit', post('/fixed', JSON.stringify({ a: 'x'.repeat(64) })), 413, 'POST /fixed'],
    ['a request line with a query', post('/fixed?a=1', '{}'), 200, 'POST /fixed?a=1'],
  ])('leaves %s to node:http, which answers as before', async (_name, request, status, seen) => {
    const answer = await new RawClient().write(request).answer();
    expect(answer.status).toBe(status);
    expect(nodeRequests).toEqual([seen]);
  });

  it.each([
    ['two lengths', post('/fixed', '{}', ['content-length: 3'])],
    ['a length and a transfer coding', post('/fixed', '{}', ['transfer-encoding: chunked'])],
    ['a folded header line', post('/fixed', '{}', ['x-a: 1', ' folded'])],
    ['no host', post('/fixed', '{}').replace('host: cert-service\r\n', '')],
  ])('leaves a request with %s to node:http, which refuses it and closes', async (_name, request) => {
    const client = new RawClient().write(request);
    const answer = await client.answer();
    expect(answer.status).toBe(400);
    await client.closed;
    expect(handled).toEqual([]);
  });

  it.each([
    ['an empty body', '', 'body is empty'],
    ['a body that is not JSON', '{"a":', 'not valid JSON'],
  ])('refuses %s itself with a 400 that says why, and keeps the connection', async (_n, body, reason) => {
    const client = new RawClient().write(post('/fixed', body) + post('/fixed', '{}'));
    const [refused, next] = await client.answers(2);
    expect(refused!.status).toBe(400);
    expect(JSON.parse(refused!.body)).toMatchObject({
      statusCode: 400,
      message: expect.stringContaining(reason),
    });
    expect(next!.status).toBe(200);
    expect(nodeRequests).toEqual([]);
  });

  it('answers a route that throws with a 500 that tells nothing, and logs it', async () => {
    const answer = await new RawClient().write(post('/fixed', '{"fail":true}')).answer();
    expect(answer.status).toBe(500);
    expect(answer.body).not.toContain('secret detail');
    expect(lines.at(-1)).toMatchObject({ msg: 'unhandled error', route: '/fixed' });
  });

  it('closes after the answer when the client asks to', async () => {
    const client = new RawClient().write(post('/fixed', '{}', ['connection: close']) + post('/fixed', '{}'));
    const answer = await client.answer();
    expect(answer.headers.connection).toBe('close');
    await client.closed;
    expect(handled).toHaveLength(1);
  });

  it('answers what a client sent before ending its side, then ends', async () => {
    const client = new RawClient().write(post('/hook', '{}'));
    client.socket.end();
    expect((await client.answer()).status).toBe(200);
    await client.closed;
  });

  it('counts each answer in the request duration metric', async () => {
    const before = await requestCount('/fixed', '200');
    await new RawClient().write(post('/fixed', '{}')).answer();
    expect(await requestCount('/fixed', '200')).toBe(before + 1);
  });

  describe('when the server closes', () => {
    it('closes idle connections at once and lets a busy one finish its answer', async () => {
      const idle = new RawClient().write(post('/fixed', '{}'));
      await idle.answer();
      const busy = new RawClient().write(post('/slow', '{}'));
      const answer = busy.answer();
      await slowWaiting();
      const closing = closeServer(server, 5_000);
      await idle.closed;
      release();
      expect((await answer).headers.connection).toBe('close');
      await busy.closed;
      await closing;
    });

    it('ends a connection that never finishes its request after the grace period', async () => {
      const client = new RawClient().write('POST /fixed HTTP/1.1\r\n');
      await new Promise((resolve) => setTimeout(resolve, 20));
      await closeServer(server, 50);
      await client.closed;
    });
  });

  describe('timeouts', () => {
    it('closes a connection idle for longer than the keep-alive timeout', async () => {
      server.keepAliveTimeout = 50;
      const client = new RawClient().write(post('/fixed', '{}'));
      await client.answer();
      await client.closed;
    });

    it('answers 408 to a request whose head takes longer than the headers timeout', async () => {
      server.headersTimeout = 50;
      const client = new RawClient();
      // From the connect, not from the call: a slow connect would shorten the gap below.
      await once(client.socket, 'connect');
      client.write('POST /fixed HTTP/1.1\r\nhost: x\r\n');
      await new Promise((resolve) => setTimeout(resolve, 150));
      client.write('content-type: application/json\r\n');
      expect((await client.answer()).status).toBe(408);
      await client.closed;
      expect(handled).toEqual([]);
    });
  });
});

async function requestCount(route: string, status: string): Promise<number> {
  const metric = await metrics.httpRequestDuration.get();
  return (
    metric.values.find(
      (v) =>
        v.metricName === 'http_request_duration_seconds_count' &&
        v.labels.route === route &&
        v.labels.status_code === status,
    )?.value ?? 0
  );
}
