import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { createLogger } from '@spincycle/common';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBrokerMetrics } from '../metrics.js';
import { DecisionCache } from './cache.js';
import { WebhookClient } from './client.js';
import { publishResponse, type PublishRequest } from './contract.js';

/** cert-service as the broker sees it: answers held until released, each request counted. */
class HeldAnswers {
  requests = 0;
  status = 200;
  answer: object = { result: 'ok' };
  maxAge: number | undefined = 30;
  private release: () => void = () => undefined;
  private held = Promise.resolve();
  private arrived: (() => void)[] = [];
  readonly server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      this.requests++;
      for (const resolve of this.arrived.splice(0)) resolve();
      void this.held.then(() =>
        res
          .writeHead(this.status, {
            'content-type': 'application/json',
            ...(this.maxAge !== undefined ? { 'cache-control': `max-age=${this.maxAge}` } : {}),
          })
          .end(JSON.stringify(this.answer)),
      );
    });
  });

  hold(): void {
    this.held = new Promise((resolve) => (this.release = resolve));
  }

  answerAll(): void {
    this.release();
  }

  /** Resolves once a request has reached the server. */
  nextRequest(): Promise<void> {
    return new Promise((resolve) => this.arrived.push(resolve));
  }
}

const publish = (payload: string): PublishRequest => ({
  username: 'D1',
  mountpoint: '',
  client_id: 'D1',
  qos: 1,
  topic: 'devices/D1/events',
  payload,
  retain: false,
});

describe('WebhookClient', () => {
  let certService: HeldAnswers;
  let cache: DecisionCache;
  let client: WebhookClient;

  beforeEach(async () => {
    certService = new HeldAnswers();
    certService.server.listen(0, '127.0.0.1');
    await once(certService.server, 'listening');
    const { port } = certService.server.address() as { port: number };
    cache = new DecisionCache(100);
    client = new WebhookClient({
      url: `http://127.0.0.1:${port}/webhooks/vernemq`,
      timeoutMs: 5000,
      metrics: createBrokerMetrics(new Registry()),
      logger: createLogger({ service: 'test', level: 'silent' }),
      cache,
    });
  });

  afterEach(async () => {
    certService.answerAll();
    await client.close();
    certService.server.closeAllConnections();
    await new Promise((resolve) => certService.server.close(resolve));
  });

  const ask = (payload: string) => client.call('auth_on_publish', publish(payload), publishResponse);

  it('asks once for publishes that wait for the same decision, and answers each', async () => {
    certService.hold();
    const answers = Promise.all([ask('YQ=='), ask('Yg=='), ask('Yw==')]);
    certService.answerAll();
    expect(await answers).toEqual([{ result: 'ok' }, { result: 'ok' }, { result: 'ok' }]);
    expect(certService.requests).toBe(1);
  });

  it('lets each ask for itself when the answer may not be kept', async () => {
    certService.maxAge = undefined;
    certService.hold();
    const answers = Promise.all([ask('YQ=='), ask('Yg==')]);
    certService.answerAll();
    expect(await answers).toEqual([{ result: 'ok' }, { result: 'ok' }]);
    expect(certService.requests).toBe(2);
  });

  it('lets each ask for itself after a refusal, which is never kept', async () => {
    certService.answer = { result: { error: 'not_allowed' } };
    certService.hold();
    const answers = Promise.all([ask('YQ=='), ask('Yg==')]);
    certService.answerAll();
    expect(await answers).toEqual([
      { result: { error: 'not_allowed' } },
      { result: { error: 'not_allowed' } },
    ]);
    expect(certService.requests).toBe(2);
  });

  it('refuses those waiting when the question fails', async () => {
    certService.status = 500;
    certService.hold();
    const answers = Promise.allSettled([ask('YQ=='), ask('Yg==')]);
    certService.answerAll();
    expect((await answers).map((a) => a.status)).toEqual(['rejected', 'rejected']);
    expect(certService.requests).toBe(1);
  });

  it('keeps no answer that was on its way when cert-service had the cache cleared', async () => {
    certService.hold();
    const arrived = certService.nextRequest();
    const first = ask('YQ==');
    await arrived;
    cache.clear({ usernames: ['D1'], clientIds: [] });
    certService.answerAll();
    await first;
    expect(cache.size).toBe(0);
    await ask('Yg==');
    expect(certService.requests).toBe(2);
  });
});
