import { laterPort } from '@spincycle/common/testing';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HibpStandIn {
  url: string;
  /** SHA-1 hashes the stand-in was asked about, to prove the password itself never left. */
  received: unknown[];
  close(): Promise<void>;
}

/**
 * hibp-service's contract, exactly: POST /v1/check {"sha1": "<40 uppercase hex>"} →
 * {"pwned": boolean}; anything else is a 400.
 */
export async function startHibpStandIn(leakedPasswords: string[]): Promise<HibpStandIn> {
  const leaked = new Set(
    leakedPasswords.map((p) => createHash('sha1').update(p).digest('hex').toUpperCase()),
  );
  const received: unknown[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = undefined;
      }
      received.push(body);
      const sha1 = (body as { sha1?: unknown } | undefined)?.sha1;
      if (
        req.method !== 'POST' ||
        req.url !== '/v1/check' ||
        typeof sha1 !== 'string' ||
        !/^[0-9A-F]{40}$/.test(sha1)
      ) {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"bad request"}');
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ pwned: leaked.has(sha1) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on: connecting is refused at once. */
export function closedPort(): Promise<number> {
  return laterPort();
}
