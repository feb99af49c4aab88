import { ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { IdentityRejected, IdentityVerifier, type Caller } from '@spincycle/common';

/**
 * Who is calling the account API: whoever the access proxy's signed id_token names, holding the
 * scope the route needs. The proxy replaces the client's access token with that id_token, so the
 * service never sees (nor introspects) the access token; a client reaching the service directly
 * with one gets a 401.
 */
@Injectable()
export class Callers {
  constructor(@Inject(IdentityVerifier) private readonly verifier: IdentityVerifier) {}

  async withScope(authorization: string | undefined, scope: string): Promise<Caller> {
    let caller: Caller;
    try {
      caller = await this.verifier.fromAuthorization(authorization);
    } catch (err) {
      if (err instanceof IdentityRejected) throw new UnauthorizedException('authentication required');
      throw err;
    }
    // The proxy's rule already demands the scope; checking again keeps a rule edited by mistake
    // from opening the route.
    if (!caller.scopes.has(scope)) throw new ForbiddenException(`the ${scope} scope is missing`);
    return caller;
  }
}
