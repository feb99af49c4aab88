import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { opsResponse, type OpsPath } from '../http.js';
import type { ServiceContext } from '../service.js';
import { SERVICE_CONTEXT } from './tokens.js';

/** /health, /health/live, /health/ready and /metrics, answered exactly as the plain services do. */
@Controller()
export class OpsController {
  constructor(@Inject(SERVICE_CONTEXT) private readonly context: ServiceContext) {}

  @Get('health')
  @Header('cache-control', 'no-store')
  health(@Res() reply: FastifyReply): Promise<void> {
    return this.send('/health', reply);
  }

  @Get('health/live')
  @Header('cache-control', 'no-store')
  live(@Res() reply: FastifyReply): Promise<void> {
    return this.send('/health/live', reply);
  }

  @Get('health/ready')
  @Header('cache-control', 'no-store')
  ready(@Res() reply: FastifyReply): Promise<void> {
    return this.send('/health/ready', reply);
  }

  @Get('metrics')
  metrics(@Res() reply: FastifyReply): Promise<void> {
    return this.send('/metrics', reply);
  }

  private async send(path: OpsPath, reply: FastifyReply): Promise<void> {
    const out = await opsResponse(path, this.context.health, this.context.metrics);
    await reply.status(out.status).header('content-type', out.contentType).send(out.body);
  }
}
