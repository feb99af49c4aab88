import { Controller, Headers, HttpCode, Inject, Post, Body, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { CertServiceConfig } from '../config.js';
import { CERT_CONFIG } from '../tokens.js';
import { WebhooksService } from './webhooks.service.js';

/**
 * One endpoint for every vmq_webhooks hook: VerneMQ names the hook in the `vernemq-hook` header,
 * so each `vmq_webhooks.<name>.endpoint` may point here. Only HTTP 200 counts for VerneMQ, and a
 * refusal is a 200 with `{"result":{"error":"not_allowed"}}`.
 */
@Controller('webhooks')
export class WebhooksController {
  constructor(
    private readonly webhooks: WebhooksService,
    @Inject(CERT_CONFIG) private readonly config: CertServiceConfig,
  ) {}

  @Post('vernemq')
  @HttpCode(200)
  async hook(
    @Headers('vernemq-hook') hook: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<object> {
    const answer = await this.webhooks.handle(hook, body);
    const maxAge = this.config.WEBHOOK_CACHE_MAX_AGE_S;
    if (answer.cacheable && maxAge > 0) void reply.header('cache-control', `max-age=${maxAge}`);
    return answer.body;
  }
}
