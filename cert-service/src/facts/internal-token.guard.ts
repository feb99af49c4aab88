import {
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { CertServiceConfig } from '../config.js';
import { CERT_CONFIG } from '../tokens.js';
import { bearerTokenMatches } from '@spincycle/common';

/** The internal API answers only callers holding INTERNAL_API_TOKEN (device-service). */
@Injectable()
export class InternalTokenGuard implements CanActivate {
  constructor(@Inject(CERT_CONFIG) private readonly config: CertServiceConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<FastifyRequest>().headers.authorization;
    if (!bearerTokenMatches(header, this.config.INTERNAL_API_TOKEN)) {
      throw new UnauthorizedException('a valid internal service token is required');
    }
    return true;
  }
}
