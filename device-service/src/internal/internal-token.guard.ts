import {
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import type { DeviceServiceConfig } from '../config.js';
import { bearerTokenMatches } from '@spincycle/common';

/**
 * The internal API answers only callers holding INTERNAL_API_TOKEN (user-service), and nobody
 * when it is unset. The access proxy never routes /internal.
 */
@Injectable()
export class InternalTokenGuard implements CanActivate {
  private readonly expected: string | undefined;

  constructor(@Inject(ConfigService) config: ConfigService<DeviceServiceConfig, true>) {
    this.expected = config.get('INTERNAL_API_TOKEN', { infer: true });
  }

  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<FastifyRequest>().headers.authorization;
    if (!bearerTokenMatches(header, this.expected)) {
      throw new UnauthorizedException('a valid internal service token is required');
    }
    return true;
  }
}
