import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { LOGGER } from '@spincycle/common/nest';
import type { Logger } from '@spincycle/common';
import type { FastifyInstance } from 'fastify';

export const WEBHOOK_PATH = '/webhooks/vernemq';

/**
 * A webhook body that is not JSON, or larger than the body limit, never reaches the controller:
 * Fastify answers 400 or 413, which VerneMQ treats as a refusal (only 200 counts). This adds the
 * log line saying why, next to the refusals the controller logs itself.
 */
@Injectable()
export class UnreadableWebhookLogger implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onError', (request, _reply, error, done) => {
      if (request.url === WEBHOOK_PATH) {
        const hook = request.headers['vernemq-hook'];
        this.logger.warn(
          { hook: typeof hook === 'string' ? hook.slice(0, 64) : null, reason: error.code ?? error.message },
          'webhook refused: unreadable body',
        );
      }
      done();
    });
  }
}
