import {
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { REQUIRED_SCOPE, type RequestWithCaller } from './caller.js';
import { IdentityRejected, IdentityVerifier } from './identity-verifier.js';

/**
 * Every public route: the caller is whoever the access proxy's id_token names, and the route's
 * scope must be among the token's scopes. `X-User-*` headers and any other token are ignored.
 */
@Injectable()
export class IdentityGuard implements CanActivate {
  constructor(
    @Inject(IdentityVerifier) private readonly verifier: IdentityVerifier,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<RequestWithCaller>();
    try {
      request.caller = await this.verifier.fromAuthorization(request.headers.authorization);
    } catch (err) {
      if (err instanceof IdentityRejected) throw new UnauthorizedException('authentication required');
      throw err;
    }
    const scope = this.reflector.getAllAndOverride<string | undefined>(REQUIRED_SCOPE, [
      context.getHandler(),
      context.getClass(),
    ]);
    // A route without a declared scope is a wiring mistake: refuse rather than serve.
    if (scope === undefined || !request.caller.scopes.has(scope)) {
      throw new ForbiddenException(`the ${scope ?? 'required'} scope is missing`);
    }
    return true;
  }
}
