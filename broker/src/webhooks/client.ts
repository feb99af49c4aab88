import type { Logger } from '@spincycle/common';
import { errors, Pool, type Dispatcher } from 'undici';
import type { ZodType } from 'zod';
import type { BrokerMetrics } from '../metrics.js';
import { cacheKey, maxAgeSeconds, type DecisionCache } from './cache.js';
import type {
  Hook,
  LifecycleRequest,
  PublishRequest,
  RegisteredRequest,
  RegisterRequest,
  SubscribeRequest,
} from './contract.js';

/** Why a webhook gave no usable answer; each one refuses the request (fail closed). */
export class WebhookFailure extends Error {
  constructor(
    readonly reason: 'timeout' | 'unreachable' | 'status' | 'not_json' | 'bad_response',
    detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'WebhookFailure';
  }
}

export interface WebhookClientOptions {
  url: string;
  timeoutMs: number;
  metrics: BrokerMetrics;
  logger: Logger;
  /** Answers cert-service allows to be reused (cache-control: max-age), as VerneMQ reuses them. */
  cache?: DecisionCache;
  /** Most connections open to cert-service at once. */
  connections?: number;
}

type Body = PublishRequest | RegisterRequest | RegisteredRequest | SubscribeRequest | LifecycleRequest;

/** A cached answer never replays a payload rewrite, as in VerneMQ. */
function withoutPayloadModifier<T>(value: T): T {
  const modifiers = (value as { modifiers?: Record<string, unknown> }).modifiers;
  if (!modifiers || !('payload' in modifiers)) return value;
  const { payload: _dropped, ...rest } = modifiers;
  return { ...value, modifiers: rest };
}

/**
 * Calls cert-service exactly as VerneMQ's vmq_webhooks does: a JSON POST with the hook's name in the
 * `vernemq-hook` header; only a 200 with a JSON body counts, anything else is an error.
 */
export class WebhookClient {
  /**
   * A bounded keep-alive pool: a burst of QoS 0 publishes queues for a connection instead of
   * opening thousands of sockets to cert-service at once.
   */
  private readonly pool: Pool;
  private readonly path: string;
  /** The last notification of each client id still on its way, which the next one waits for. */
  private readonly notifying = new Map<string, Promise<void>>();
  /** Cacheable questions on their way to cert-service, by cache key. */
  private readonly asking = new Map<string, Promise<unknown>>();

  constructor(private readonly options: WebhookClientOptions) {
    const url = new URL(options.url);
    this.pool = new Pool(url.origin, { connections: options.connections ?? 64, keepAliveTimeout: 30_000 });
    this.path = `${url.pathname}${url.search}`;
  }

  /** A reusable answer to the question of that cache key, without asking; undefined if none. */
  cached<T>(key: string): T | undefined {
    return this.options.cache?.get<T>(key);
  }

  /** `key`: the question's cacheKey, where the caller has it already. */
  async call<T>(
    hook: Hook,
    body: Body,
    schema: ZodType<T>,
    key = cacheKey(hook, body as unknown as Record<string, unknown>),
  ): Promise<T> {
    const cache = this.options.cache;
    if (!cache) return this.ask(hook, body, schema, undefined);
    const cached = cache.get<T>(key);
    if (cached !== undefined) return cached;
    // A device with several publishes in flight, or a fleet reconnecting at once, asks the same
    // question many times before the first answer arrives: those wait for it rather than ask
    // again. Only an answer the cache kept is shared, the one they would have had a moment later;
    // one it did not keep (a refusal, no max-age) they ask for themselves, and a failure (timeout,
    // cert-service unreachable) refuses them too.
    const pending = this.asking.get(key);
    if (pending) {
      await pending;
      const shared = cache.get<T>(key);
      if (shared !== undefined) return shared;
      return this.ask(hook, body, schema, key);
    }
    const asked = this.ask(hook, body, schema, key);
    this.asking.set(key, asked);
    try {
      return await asked;
    } finally {
      if (this.asking.get(key) === asked) this.asking.delete(key);
    }
  }

  private async ask<T>(hook: Hook, body: Body, schema: ZodType<T>, key: string | undefined): Promise<T> {
    const cache = this.options.cache;
    const askedAt = cache?.generation;
    const started = process.hrtime.bigint();
    let outcome = 'ok';
    try {
      const { value, maxAge } = await this.send(hook, body, schema);
      if (cache && key !== undefined && maxAge && (value as { result?: unknown }).result === 'ok') {
        const who = body as { username?: string | null; client_id: string };
        cache.set(
          key,
          withoutPayloadModifier(value),
          maxAge,
          { username: who.username ?? null, clientId: who.client_id },
          askedAt,
        );
      }
      return value;
    } catch (err) {
      outcome = err instanceof WebhookFailure ? err.reason : 'unreachable';
      throw err instanceof WebhookFailure ? err : new WebhookFailure('unreachable', (err as Error).message);
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.options.metrics.webhookDuration.observe({ hook, outcome }, seconds);
    }
  }

  /**
   * For the on_* hooks, whose answer VerneMQ ignores: failures are logged, never thrown. The
   * notifications of one client id arrive one after the other, in the order they were sent: over
   * the pool two could otherwise overtake each other, and an on_client_gone landing after the
   * on_register of a quick reconnect would leave cert-service believing the device offline.
   */
  notify(hook: Hook, body: Body): void {
    const key = body.client_id;
    const sent = (this.notifying.get(key) ?? Promise.resolve())
      .then(() => this.send(hook, body, undefined))
      .then(
        () => undefined,
        (err: Error) => {
          this.options.logger.warn({ hook, reason: err.message }, 'webhook notification failed');
        },
      )
      .finally(() => {
        if (this.notifying.get(key) === sent) this.notifying.delete(key);
      });
    this.notifying.set(key, sent);
  }

  private async send<T>(
    hook: Hook,
    body: Body,
    schema: ZodType<T> | undefined,
  ): Promise<{ value: T; maxAge: number | undefined }> {
    let response: Dispatcher.ResponseData;
    try {
      response = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'vernemq-hook': hook },
        body: JSON.stringify(body),
        // The deadline covers the wait for a pooled connection as well as the answer.
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError' || err instanceof errors.HeadersTimeoutError) {
        throw new WebhookFailure('timeout', `no answer within ${this.options.timeoutMs} ms`);
      }
      throw new WebhookFailure('unreachable', (err as Error).message);
    }
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new WebhookFailure('status', `HTTP ${response.statusCode}`);
    }
    let json: unknown;
    try {
      json = await response.body.json();
    } catch {
      throw new WebhookFailure('not_json', 'the body is not JSON');
    }
    const header = response.headers['cache-control'];
    const maxAge = maxAgeSeconds(Array.isArray(header) ? header.join(',') : (header ?? null));
    if (!schema) return { value: json as T, maxAge };
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new WebhookFailure('bad_response', parsed.error.issues[0]?.message ?? 'invalid');
    return { value: parsed.data, maxAge };
  }

  /** Lets the notifications already sent arrive (each bounded by the timeout), then closes. */
  async close(): Promise<void> {
    await Promise.all(this.notifying.values());
    await this.pool.close();
  }
}
