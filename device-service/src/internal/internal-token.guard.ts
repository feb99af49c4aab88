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
import { SecretHasher } from '../secrets/secrets.js';

/**
 * The internal API answers only callers holding INTERNAL_API_TOKEN (user-service), and nobody
 * when it is unset. The access proxy never routes /internal.
 */
@Injectable()
export class InternalTokenGuard implements CanActivate {
  private readonly expected: Buffer | null;

  constructor(
    private readonly hasher: SecretHasher,
    @Inject(ConfigService) config: ConfigService<DeviceServiceConfig, true>,
  ) {
    const token = config.get('INTERNAL_API_TOKEN', { infer: true });
    this.expected = token === undefined ? null : hasher.hash('internal-token', token);
  }

  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<FastifyRequest>().headers.authorization;
    const presented = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : '';
    // Both sides hashed first: the comparison takes the same time whatever the presented length.
    if (presented === '' || !this.hasher.matches('internal-token', presented, this.expected)) {
      throw new UnauthorizedException('a valid internal service token is required');
    }
    return true;
  }
}
