import { Injectable, UnauthorizedException } from '@nestjs/common';
import { HydraAdmin } from '../identity-provider/hydra-admin.js';

/**
 * Who is calling the account API: the subject of an active access token, asked of the OAuth2
 * server's introspection endpoint. Anything short of a clear "active access token" is a 401.
 */
@Injectable()
export class Callers {
  constructor(private readonly hydra: HydraAdmin) {}

  async subjectOf(authorization: string | undefined): Promise<string> {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) throw new UnauthorizedException('an access token is required');
    const introspected = await this.hydra.introspect(token);
    if (!introspected.active || introspected.token_use !== 'access_token' || !introspected.sub) {
      throw new UnauthorizedException('the access token is not valid');
    }
    return introspected.sub;
  }
}
