import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../metrics.js';
import { capturingLogger, recordingRoutes } from '../testing/index.js';
import { directRouter } from './direct-route.js';

const { logger, lines } = capturingLogger();
const metrics = createMetrics('test');
const { routes, handled, refusals, reset } = recordingRoutes();

let server: Server;
let port: number;

beforeAll(async () => {
  const fallback = (_req: unknown, res: { end(text: string): void }) => res.end('fallback');
  server = createServer(directRouter(routes, fallback, { logger, metrics, bodyLimitBytes: 64 }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

beforeEach(reset);

/** One request; `chunks` are written one by one, so a body can arrive without a content-length. */
function send(
  options: { method?: string; path?: string; headers?: Record<string, string>; chunks?: string[] } = {},
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'POST',
        path: options.path ?? '/hook',
        headers: { 'content-type': 'application/json', ...options.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    for (const chunk of options.chunks ?? []) req.write(chunk);
    req.end();
  });
}

describe('directRouter', () => {
  it('hands the parsed body and headers to the route and sends its answer as JSON', async () => {
    const answer = await send({ headers: { 'x-hook': 'publish' }, chunks: ['{"a":', '1}'] });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.headers['x-extra']).toBe('yes');
    expect(JSON.parse(answer.text)).toEqual({ got: { a: 1 }, hook: 'publish' });
  });

  it('leaves every other path, and the same path with a query, to the fallback', async () => {
    expect((await send({ path: '/other', chunks: ['{}'] })).text).toBe('fallback');
    expect((await send({ path: '/hook?x=1', chunks: ['{}'] })).text).toBe('fallback');
    expect(handled).toEqual([]);
  });

  it.each([
    ['a GET', { method: 'GET' }, 405, 'accepts POST only'],
    [
      'another content type',
      { headers: { 'content-type': 'text/plain' }, chunks: ['{}'] },
      415,
      'content-type',
    ],
    ['an empty body', {}, 400, 'body is empty'],
    ['a body that is not JSON', { chunks: ['{"a":'] }, 400, 'not valid JSON'],
    [
      'a declared length over the limit',
      { headers: { 'content-length': '65' }, chunks: ['x'.repeat(65)] },
      413,
      'at most 64 bytes',
    ],
    [
      'a streamed body over the limit',
      { chunks: ['{"a":"', 'x'.repeat(40), 'x'.repeat(40), '"}'] },
      413,
      'at most 64 bytes',
    ],
  ])('refuses %s without calling the route, and says why', async (_name, options, status, reason) => {
    const answer = await send(options);
    expect(answer.status).toBe(status);
    expect(JSON.parse(answer.text)).toMatchObject({
      statusCode: status,
      message: expect.stringContaining(reason),
    });
    expect(refusals).toEqual([expect.stringContaining(reason)]);
    expect(handled).toEqual([]);
  });

  it('answers a failing route with a 500 that tells nothing, and logs the error', async () => {
    const answer = await send({ chunks: ['{"fail":true}'] });
    expect(answer.status).toBe(500);
    expect(answer.text).not.toContain('secret detail');
    expect(lines.at(-1)).toMatchObject({ msg: 'unhandled error', route: '/hook' });
  });

  it('sends a prepared answer given at once as its JSON, with its headers and exact length', async () => {
    const answer = await send({ path: '/fixed', chunks: ['{"a":1}'] });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('{"result":"ok"}');
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.headers['content-length']).toBe(String(answer.text.length));
    expect(answer.headers['cache-control']).toBe('max-age=5');
    expect(handled).toEqual([{ a: 1 }]);
  });

  it('answers a route that throws at once like one that rejects: 500, no detail, logged', async () => {
    const answer = await send({ path: '/fixed', chunks: ['{"fail":true}'] });
    expect(answer.status).toBe(500);
    expect(answer.text).not.toContain('secret detail');
    expect(lines.at(-1)).toMatchObject({ msg: 'unhandled error', route: '/fixed' });
  });

  it('answers 500 for an answer that cannot be serialized, and keeps serving', async () => {
    expect((await send({ path: '/fixed', chunks: ['{"unsendable":true}'] })).status).toBe(500);
    expect(lines.at(-1)).toMatchObject({ msg: 'unhandled error', route: '/fixed' });
    expect((await send({ path: '/fixed', chunks: ['{}'] })).status).toBe(200);
  });

  it('counts every answer in the request duration metric, by status', async () => {
    await send({ chunks: ['{}'] });
    const metric = await metrics.httpRequestDuration.get();
    const count = (status: string) =>
      metric.values.find(
        (v) =>
          v.metricName === 'http_request_duration_seconds_count' &&
          v.labels.route === '/hook' &&
          v.labels.status_code === status,
      )?.value ?? 0;
    expect(count('200')).toBeGreaterThan(0);
    expect(count('400')).toBeGreaterThan(0);
  });
});
