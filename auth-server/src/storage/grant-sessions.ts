import type { PayloadRepository } from './payload.repository.js';

/**
 * What the consent provider put in `session` when it accepted consent (Hydra's session data):
 * `accessToken` becomes the introspection `ext` of every access token of the grant, `idToken`
 * the extra ID token claims. Stored next to the grant, and gone with it.
 */
export interface GrantSession {
  grantId: string;
  accessToken: Record<string, unknown>;
  idToken: Record<string, unknown>;
  audience: string[];
}

const KIND = 'GrantSession';

export class GrantSessions {
  constructor(private readonly payloads: PayloadRepository) {}

  async save(session: GrantSession, ttlSeconds: number): Promise<void> {
    await this.payloads.upsert(KIND, session.grantId, { ...session }, ttlSeconds);
  }

  async find(grantId: string | undefined): Promise<GrantSession | undefined> {
    if (!grantId) return undefined;
    return (await this.payloads.find(KIND, grantId)) as GrantSession | undefined;
  }

  async remove(grantId: string): Promise<void> {
    await this.payloads.destroy(KIND, grantId);
  }
}
