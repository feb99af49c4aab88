import { once } from 'node:events';
import { createServer, type Server } from 'node:http';

/**
 * A stand-in for cert-service built from VerneMQ's webhook contract (one POST endpoint, the hook in
 * the `vernemq-hook` header, `{"result": …}` answers, subscribe topic lists with QoS 128 for refused
 * topics) and serving the device CA and CRL. Its decisions follow a deliberately small table: the
 * broker must apply whatever it is told, so the table only has to be unambiguous.
 */
export interface StandIn {
  url: string;
  calls: { hook: string; body: Record<string, unknown> }[];
  /** Answer every webhook with this HTTP status instead (500: cert-service failing). */
  failWith: number | undefined;
  /** Delay every webhook answer (to exercise the broker's timeout). */
  delayMs: number;
  /** Send `cache-control: max-age=<n>` with every answer. */
  maxAge: number | undefined;
  /** Rewrites to send with every allowed auth_on_publish, as cert-service may. */
  publishModifiers: Record<string, unknown> | undefined;
  crl: string;
  /** Resolves once the calls received so far satisfy the predicate. */
  until(predicate: (calls: StandIn['calls']) => boolean): Promise<void>;
  close(): Promise<void>;
}

const devicePasswords: Record<string, string> = { D1: 'd1-secret', D2: 'd2-secret' };
const userTokens: Record<string, string> = { alice: 'alice-token', bob: 'bob-token' };
const owned: Record<string, string[]> = { alice: ['D1'], bob: [] };

function decide(
  hook: string,
  body: Record<string, unknown>,
  publishModifiers: Record<string, unknown> | undefined,
): unknown {
  const username = typeof body.username === 'string' ? body.username : '';
  const deny = { result: { error: 'not_allowed' } };
  switch (hook) {
    case 'auth_on_register': {
      const expected = devicePasswords[username] ?? userTokens[username];
      return expected !== undefined && body.password === expected && body.client_id === username
        ? { result: 'ok' }
        : deny;
    }
    case 'auth_on_publish': {
      const topic = String(body.topic);
      if (topic !== `devices/${username}/state` && topic !== `devices/${username}/events`) return deny;
      return publishModifiers ? { result: 'ok', modifiers: publishModifiers } : { result: 'ok' };
    }
    case 'auth_on_subscribe': {
      const topics = body.topics as { topic: string; qos: number }[];
      return {
        result: 'ok',
        topics: topics.map(({ topic, qos }) => {
          const device = /^devices\/([^/]+)\/state$/.exec(topic)?.[1];
          return { topic, qos: device && owned[username]?.includes(device) ? qos : 128 };
        }),
      };
    }
    default:
      return {};
  }
}

export async function startStandIn(ca: string, crl: string): Promise<StandIn> {
  const waiting = new Set<() => void>();
  const state: StandIn = {
    url: '',
    calls: [],
    failWith: undefined,
    delayMs: 0,
    maxAge: undefined,
    publishModifiers: undefined,
    crl,
    until: (predicate) =>
      new Promise((resolve) => {
        const check = () => {
          if (!predicate(state.calls)) return;
          waiting.delete(check);
          resolve();
        };
        waiting.add(check);
        check();
      }),
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/ca') return res.end(ca);
      if (req.method === 'GET' && req.url === '/crl.pem') return res.end(state.crl);
      const hook = String(req.headers['vernemq-hook'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
      state.calls.push({ hook, body });
      for (const check of [...waiting]) check();
      setTimeout(() => {
        if (state.failWith) return res.writeHead(state.failWith).end('{}');
        res
          .writeHead(200, {
            'content-type': 'application/json',
            ...(state.maxAge !== undefined ? { 'cache-control': `max-age=${state.maxAge}` } : {}),
          })
          .end(JSON.stringify(decide(hook, body, state.publishModifiers)));
      }, state.delayMs);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  state.url = `http://127.0.0.1:${port}`;
  state.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
