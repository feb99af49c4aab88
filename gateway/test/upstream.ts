import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  bytes: number;
}

/**
 * A real upstream service: records what reached it and echoes it back. `/stream` answers in
 * chunks; every answer carries a banner and hop-by-hop headers the gateway must drop.
 */
export class Upstream {
  readonly received: Received[] = [];
  private server?: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        chunks.push(chunk);
      });
      const record = () =>
        this.received.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          bytes,
        });
      req.on('close', () => {
        if (!req.complete) record();
      });
      req.on('end', () => {
        record();
        const banner = {
          server: 'upstream/1.0',
          'x-powered-by': 'node',
          'keep-alive': 'timeout=5',
          'x-extra': 'kept',
        };
        if (req.url?.startsWith('/stream')) {
          res.writeHead(200, { ...banner, 'content-type': 'text/plain' });
          let left = 5;
          const tick = () => {
            res.write(`chunk-${left};`);
            if (--left > 0) setImmediate(tick);
            else res.end();
          };
          tick();
          return;
        }
        res.writeHead(200, { ...banner, 'content-type': 'application/json' });
        res.end(JSON.stringify({ url: req.url, bytes }));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  last(): Received {
    const found = this.received.at(-1);
    if (!found) throw new Error('the upstream received nothing');
    return found;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
