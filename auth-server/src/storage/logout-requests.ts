import { randomBytes } from 'node:crypto';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { PayloadRepository } from './payload.repository.js';

/** A logout started at /oauth2/sessions/logout, waiting for the logout provider's decision. */
export interface LogoutRequest {
  challenge: string;
  subject: string;
  /** Public session id (OIDC `sid`). */
  sid: string;
  /** Storage id of the browser session, to end it on accept. */
  sessionId: string;
  clientId: string | undefined;
  grantIds: string[];
  requestUrl: string;
  rpInitiated: boolean;
  postLogoutRedirectUri: string | undefined;
  clientState: string | undefined;
  requestedAt: string;
  expiresAt: string;
}

const KIND = 'LogoutRequest';
const TTL_SECONDS = 30 * 60;

export class LogoutRequests {
  constructor(private readonly payloads: PayloadRepository) {}

  async start(ctx: KoaContextWithOIDC): Promise<string> {
    const { session, client, params } = ctx.oidc;
    if (!session?.accountId) throw new Error('logout source called without an authenticated session');
    const challenge = randomBytes(32).toString('base64url');
    const now = Date.now();
    const request: LogoutRequest = {
      challenge,
      subject: session.accountId,
      sid: session.uid,
      sessionId: session.jti,
      clientId: client?.clientId,
      grantIds: Object.values(session.authorizations ?? {}).flatMap((a) => (a.grantId ? [a.grantId] : [])),
      requestUrl: ctx.href,
      rpInitiated: Boolean(params?.id_token_hint ?? params?.client_id),
      postLogoutRedirectUri: stringOrUndefined(params?.post_logout_redirect_uri),
      clientState: stringOrUndefined(params?.state),
      requestedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + TTL_SECONDS * 1000).toISOString(),
    };
    await this.payloads.upsert(KIND, challenge, { ...request }, TTL_SECONDS);
    return challenge;
  }

  async find(challenge: string): Promise<LogoutRequest | undefined> {
    return (await this.payloads.find(KIND, challenge)) as LogoutRequest | undefined;
  }

  async remove(challenge: string): Promise<void> {
    await this.payloads.destroy(KIND, challenge);
  }
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
