import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '@spincycle/common';
import { PreparedAnswer, type DirectAnswer, type DirectJsonRoute } from '@spincycle/common/nest';
import type { CertServiceConfig } from '../config.js';
import { andThen } from './awaitable.js';
import { FIXED_HOOK_ANSWERS, type HookAnswer, type WebhooksService } from './webhooks.service.js';

export const WEBHOOK_PATH = '/webhooks/vernemq';

/**
 * One endpoint for every vmq_webhooks hook: VerneMQ names the hook in the `vernemq-hook` header,
 * so each `vmq_webhooks.<name>.endpoint` may point here. Only HTTP 200 counts for VerneMQ, and a
 * refusal is a 200 with `{"result":{"error":"not_allowed"}}`; a body that is not JSON, or too large,
 * gets a 400 or 413, which VerneMQ counts as a refusal too.
 *
 * Served ahead of Nest and Fastify, and read straight off the broker's connections rather than
 * through node:http (DirectConnections): the broker calls it once per connect, publish and
 * subscribe, and their per-request pipeline (routing, hooks, body parser, serializer, request and
 * response streams, none of which this route needs) took more CPU than the decision itself;
 * bench/cert-service measures the difference.
 */
export function webhookRoute(
  webhooks: WebhooksService,
  config: CertServiceConfig,
  logger: Logger,
): DirectJsonRoute {
  const maxAge = config.WEBHOOK_CACHE_MAX_AGE_S;
  const cacheable = maxAge > 0 ? { 'cache-control': `max-age=${maxAge}` } : undefined;
  const headersOf = (answer: HookAnswer) => (answer.cacheable ? cacheable : undefined);
  // The answers to nearly every call: serialized here once rather than per request.
  const prepared = new Map(
    FIXED_HOOK_ANSWERS.map((answer) => [answer, new PreparedAnswer(200, answer.body, headersOf(answer))]),
  );
  const toHttp = (answer: HookAnswer): DirectAnswer | PreparedAnswer => {
    const fixed = prepared.get(answer);
    if (fixed !== undefined) return fixed;
    const headers = headersOf(answer);
    return headers ? { status: 200, body: answer.body, headers } : { status: 200, body: answer.body };
  };
  const hookOf = (headers: IncomingHttpHeaders) => {
    const hook = headers['vernemq-hook'];
    return typeof hook === 'string' ? hook : undefined;
  };
  return {
    path: WEBHOOK_PATH,
    handle: (body, headers) => andThen(webhooks.handle(hookOf(headers), body), toHttp),
    onRefused(reason, headers) {
      logger.warn(
        { hook: hookOf(headers)?.slice(0, 64) ?? null, reason },
        'webhook refused: unreadable body',
      );
    },
  };
}
