import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Caller } from '@spincycle/common';

export { ROLES, type Caller, type Role } from '@spincycle/common';

export type RequestWithCaller = FastifyRequest & { caller?: Caller };

export const REQUIRED_SCOPE = 'device-service:required-scope';

/**
 * The OAuth2 scope a route needs. The access proxy's rule already demands it; the service checks
 * it again so that a rule edited by mistake does not open the route.
 */
export const RequireScope = (scope: string) => SetMetadata(REQUIRED_SCOPE, scope);

/** The verified caller of a route behind IdentityGuard. */
export const CurrentCaller = createParamDecorator((_data: unknown, context: ExecutionContext): Caller => {
  const caller = context.switchToHttp().getRequest<RequestWithCaller>().caller;
  // IdentityGuard runs before any handler that asks for a caller; reaching here without one is a
  // wiring mistake, refused rather than served anonymously.
  if (!caller) throw new Error('route reads a caller but is not behind IdentityGuard');
  return caller;
});
