import { Inject, Injectable } from '@nestjs/common';
import { LOGGER } from '@spincycle/common/nest';
import type { Logger } from '@spincycle/common';
import type { z } from 'zod';
import { otaSubscriber } from '../renewal/renewal-notice.js';
import { RenewalNotices } from '../renewal/renewal-notices.service.js';
import { andThen, type Awaitable } from './awaitable.js';
import { AT_LEAST_ONCE, BrokerAuthorizer, RETAIN, type PublishModifiers } from './broker-authorizer.js';
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

type Handler = (body: unknown, now: number) => Awaitable<HookAnswer>;

const refused: HookAnswer = { body: NOT_ALLOWED, cacheable: false };
const ignored: HookAnswer = { body: {}, cacheable: false };
/** A connect is never cacheable by the broker: VerneMQ would keep letting a revoked device in. */
const registered: HookAnswer = { body: OK, cacheable: false };
/** A publish decision may be, when WEBHOOK_CACHE_MAX_AGE_S allows. */
const published: HookAnswer = { body: OK, cacheable: true };
const publishedWith = new Map<PublishModifiers, HookAnswer>(
  [RETAIN, AT_LEAST_ONCE].map((modifiers) => [
    modifiers,
    { body: { result: 'ok', modifiers }, cacheable: true },
  ]),
);

/**
 * Every answer `handle` gives as a shared object rather than one made for the request, so that
 * the route can serialize each once; the others are subscribe answers, which list their topics.
 */
export const FIXED_HOOK_ANSWERS: readonly HookAnswer[] = [
  refused,
  ignored,
  registered,
  published,
  ...publishedWith.values(),
];

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
        return this.answer('auth_on_register', request.client_id, decision, registered);
      });
    const publish = (schema: typeof authOnPublish | typeof authOnPublishM5): Handler =>
      this.parsed(schema, (request, now) =>
        andThen(this.authorizer.publish(request, now), (decision) =>
          this.answer(
            'auth_on_publish',
            request.client_id,
            decision,
            decision.modifiers ? publishedWith.get(decision.modifiers)! : published,
            request.topic,
          ),
        ),
      );
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
    const onRegistered = this.parsed(onRegister, async (request) => {
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
      ['on_register', onRegistered],
      ['on_register_m5', onRegistered],
      ['on_subscribe', subscribed],
      ['on_subscribe_m5', subscribed],
      ['on_client_wakeup', online(true)],
      ['on_client_offline', online(false)],
      ['on_client_gone', online(false)],
    ]);
  }

  handle(hook: string | undefined, body: unknown, now = Date.now()): Awaitable<HookAnswer> {
    const handler = hook === undefined ? undefined : this.handlers.get(hook);
    if (hook === undefined || handler === undefined) {
      this.logger.warn(
        { hook: hook?.slice(0, 64) ?? null },
        'webhook refused: unknown or missing vernemq-hook header',
      );
      return refused;
    }
    try {
      const answer = handler(body, now);
      return answer instanceof Promise ? answer.catch((err: unknown) => this.failed(hook, err)) : answer;
    } catch (err) {
      return this.failed(hook, err);
    }
  }

  private failed(hook: string, err: unknown): HookAnswer {
    this.logger.error({ hook, err: (err as Error).message }, 'webhook refused: decision failed');
    return hook.startsWith('auth_') ? refused : ignored;
  }

  private parsed<S extends z.ZodType>(
    schema: S,
    run: (request: z.output<S>, now: number) => Awaitable<HookAnswer>,
  ): Handler {
    return (body, now) => {
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

  private answer(
    hook: 'auth_on_register' | 'auth_on_publish',
    clientId: string,
    decision: { allow: boolean; reason: string },
    allowed: HookAnswer,
    topic?: string,
  ): HookAnswer {
    if (decision.allow) return allowed;
    this.logger.info({ hook, clientId, topic, reason: decision.reason }, 'broker request refused');
    return refused;
  }
}
