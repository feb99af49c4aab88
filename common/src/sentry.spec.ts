import { createServer, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { initErrorReporting } from './sentry.js';

const logger = createLogger({ service: 'test', level: 'silent' });

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString();
}

describe('error reporting', () => {
  it('does nothing without SENTRY_DSN', async () => {
    const reporter = await initErrorReporting({ dsn: undefined, service: 'test' }, logger);
    expect(() => reporter.capture(new Error('x'))).not.toThrow();
    await reporter.flush(10);
  });

  it('sends captured errors to the DSN as a Sentry envelope', async () => {
    // A stand-in ingestion endpoint: Sentry's envelope endpoint is POST /api/<project>/envelope/.
    const envelopes: { url: string; text: string }[] = [];
    const server = createServer((req, res) => {
      void body(req).then((text) => {
        envelopes.push({ url: req.url ?? '', text });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    try {
      const reporter = await initErrorReporting(
        { dsn: `http://publickey@127.0.0.1:${port}/42`, service: 'test', environment: 'test' },
        logger,
      );
      reporter.capture(new Error('drum bearing failure'));
      await reporter.flush(5000);
      const event = envelopes.find((e) => e.text.includes('drum bearing failure'));
      expect(event?.url).toMatch(/^\/api\/42\/envelope\//);
      expect(event?.text).toContain('"environment":"test"');
    } finally {
      server.close();
    }
  });
});
