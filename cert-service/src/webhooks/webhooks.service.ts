import { Inject, Injectable } from '@nestjs/common';
import { LOGGER } from '@spincycle/common/nest';
import type { Logger } from '@spincycle/common';
import type { z } from 'zod';
import { otaSubscriber } from '../renewal/renewal-notice.js';
import { RenewalNotices } from '../renewal/renewal-notices.service.js';
import { BrokerAuthorizer } from './broker-authorizer.js';
import {
  authOnPublish,
  authOnPublishM5,
  authOnRegister,
  authOnRegisterM5,
  authOnSubscribe,
  authOnSubscribeM5,
  clientLifecycle,
  NOT_ALLOWED,
  OK,
  onRegister,
  onSubscribe,
  REFUSED_QOS_V3,
  REFUSED_REASON_M5,
} from './webhook.schemas.js';

export interface HookAnswer {
  body: object;
  /** An allowed publish or subscribe, which VerneMQ may cache when max-age is configured. */
  cacheable: boolean;
}

type Handler = (body: unknown, now: number) => Promise<HookAnswer>;

const refused: HookAnswer = { body: NOT_ALLOWED, cacheable: false };
const ignored: HookAnswer = { body: {}, cacheable: false };

/**
 * Dispatches VerneMQ webhooks on their `vernemq-hook` header and shapes the answers exactly as
 * vmq_webhooks reads them. Anything unexpected (unknown hook, a body that does not match the
 * hook's shape, a failing database) is refused with a log line saying why: never `ok`.
 */
@Injectable()
export class WebhooksService {
  private readonly handlers: ReadonlyMap<string, Handler>;

  constructor(
    private readonly authorizer: BrokerAuthorizer,
    private readonly renewals: RenewalNotices,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    const register = (schema: typeof authOnRegister | typeof authOnRegisterM5): Handler =>
      this.parsed(schema, async (request, now) => {
        const decision = await this.authorizer.register(request, now);
        return this.answer('auth_on_register', request.client_id, decision, OK);
      });
    const publish = (schema: typeof authOnPublish | typeof authOnPublishM5): Handler =>
      this.parsed(schema, async (request, now) => {
        const decision = await this.authorizer.publish(request, now);
        const ok = decision.modifiers ? { result: 'ok', modifiers: decision.modifiers } : OK;
        return this.answer('auth_on_publish', request.client_id, decision, ok, request.topic);
      });
    const subscribe = (m5: boolean): Handler =>
      this.parsed(m5 ? authOnSubscribeM5 : authOnSubscribe, async (request, now) => {
        const granted = await this.authorizer.subscribe(request, now);
        const topics = request.topics.map(({ topic }, i) => ({
          topic,
          qos: granted[i] ?? (m5 ? REFUSED_REASON_M5 : REFUSED_QOS_V3),
        }));
        // MQTT 3 reads the list at the top level, MQTT 5 under modifiers (vmq_webhooks_plugin.erl).
        const body = m5 ? { result: 'ok', modifiers: { topics } } : { result: 'ok', topics };
        return { body, cacheable: granted.every((qos) => qos !== undefined) };
      });
    const online = (value: boolean): Handler =>
      this.parsed(clientLifecycle, async (request) => {
        await this.authorizer.setOnline(request.client_id, value);
        return ignored;
      });
    const registered = this.parsed(onRegister, async (request) => {
      await this.authorizer.setOnline(request.client_id, true);
      return ignored;
    });
    const subscribed = this.parsed(onSubscribe, async (request, now) => {
      const deviceId = otaSubscriber(request);
      // Not awaited: the notice goes out through the broker, which is waiting for this answer.
      if (deviceId !== undefined) void this.renewals.deviceSubscribed(deviceId, new Date(now));
      return ignored;
    });
    this.handlers = new Map<string, Handler>([
      ['auth_on_register', register(authOnRegister)],
      ['auth_on_register_m5', register(authOnRegisterM5)],
      ['auth_on_publish', publish(authOnPublish)],
      ['auth_on_publish_m5', publish(authOnPublishM5)],
      ['auth_on_subscribe', subscribe(false)],
      ['auth_on_subscribe_m5', subscribe(true)],
      ['on_register', registered],
      ['on_register_m5', registered],
      ['on_subscribe', subscribed],
      ['on_subscribe_m5', subscribed],
      ['on_client_wakeup', online(true)],
      ['on_client_offline', online(false)],
      ['on_client_gone', online(false)],
    ]);
  }

  async handle(hook: string | undefined, body: unknown, now = Date.now()): Promise<HookAnswer> {
    const handler = hook === undefined ? undefined : this.handlers.get(hook);
    if (hook === undefined || handler === undefined) {
      this.logger.warn(
        { hook: hook?.slice(0, 64) ?? null },
        'webhook refused: unknown or missing vernemq-hook header',
      );
      return refused;
    }
    try {
      return await handler(body, now);
    } catch (err) {
      this.logger.error({ hook, err: (err as Error).message }, 'webhook refused: decision failed');
      return hook.startsWith('auth_') ? refused : ignored;
    }
  }

  private parsed<S extends z.ZodType>(
    schema: S,
    run: (request: z.output<S>, now: number) => Promise<HookAnswer>,
  ): Handler {
    return async (body, now) => {
      const result = schema.safeParse(body);
      if (!result.success) {
        const fields = result.error.issues
          .slice(0, 5)
          .map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
        this.logger.warn({ fields }, 'webhook refused: body does not match the hook');
        return refused;
      }
      return run(result.data, now);
    };
  }

  /**
   * A connect is never cacheable by the broker: VerneMQ would keep letting a revoked device in
   * for the cache's lifetime. A publish decision may be, when WEBHOOK_CACHE_MAX_AGE_S allows.
   */
  private answer(
    hook: 'auth_on_register' | 'auth_on_publish',
    clientId: string,
    decision: { allow: boolean; reason: string },
    ok: object,
    topic?: string,
  ): HookAnswer {
    if (decision.allow) return { body: ok, cacheable: hook === 'auth_on_publish' };
    this.logger.info({ hook, clientId, topic, reason: decision.reason }, 'broker request refused');
    return refused;
  }
}
