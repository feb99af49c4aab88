import type { EntityManager } from 'typeorm';
import { z } from 'zod';
import type { SecretHasher } from '../secrets/secrets.js';
import type {
  ProvisioningSession,
  ProvisioningSessionsRepository,
} from './provisioning-sessions.repository.js';

/**
 * The event a device publishes on its own events topic to present its provisioning token:
 * `{"id": "…", "type": "device.provisioned", "data": {"token": "<token>"}}`. Only a device can
 * publish there (the broker's ACL), so a match proves the device the app set up came online.
 */
export const PROVISIONED_EVENT = 'device.provisioned';

const presentedData = z.object({ token: z.string().min(1).max(256) });

/** The token a `device.provisioned` event carries, or null when its data holds none. */
export function presentedToken(data: unknown): string | null {
  const parsed = presentedData.safeParse(data);
  return parsed.success ? parsed.data.token : null;
}

/**
 * A presented token connects the session only while the session waits for it (a token is spent
 * once accepted), only if it arrived before the expiry, and only if it matches the stored keyed
 * hash, compared in constant time.
 */
export function tokenAccepted(
  hasher: SecretHasher,
  session: ProvisioningSession | undefined,
  token: string | null,
  presentedAt: Date,
): boolean {
  if (session === undefined || token === null || session.connectedAt !== null) return false;
  if (presentedAt.getTime() >= session.expiresAt.getTime()) return false;
  return hasher.matches('provisioning-token', token, session.tokenHash);
}

export interface ProvisioningStatus {
  status: 'none' | 'pending' | 'connected' | 'expired';
  expiresAt: Date | null;
  connectedAt: Date | null;
}

/** What the app polls while the machine joins the Wi-Fi. */
export function provisioningStatus(session: ProvisioningSession | null, now: Date): ProvisioningStatus {
  if (session === null) return { status: 'none', expiresAt: null, connectedAt: null };
  const status =
    session.connectedAt !== null
      ? 'connected'
      : session.expiresAt.getTime() > now.getTime()
        ? 'pending'
        : 'expired';
  return { status, expiresAt: session.expiresAt, connectedAt: session.connectedAt };
}

export interface PresentedToken {
  deviceId: string;
  token: string | null;
  presentedAt: Date;
}

/**
 * Decides every token presented in one ingested batch, inside its transaction, and marks the
 * sessions they connect. Answers one verdict per presentation, in order.
 */
export async function verifyPresentedTokens(
  sessions: ProvisioningSessionsRepository,
  hasher: SecretHasher,
  presented: readonly PresentedToken[],
  manager: EntityManager,
): Promise<boolean[]> {
  if (presented.length === 0) return [];
  // Locked, so a token issued meanwhile cannot be connected by a presentation of the one it replaced.
  const live = await sessions.lockForDevices([...new Set(presented.map((p) => p.deviceId))], manager);
  const connected = new Map<string, Date>();
  const verdicts = presented.map((p) => {
    // The first acceptance spends the token, also for a second presentation in the same batch.
    const accepted =
      !connected.has(p.deviceId) && tokenAccepted(hasher, live.get(p.deviceId), p.token, p.presentedAt);
    if (accepted) connected.set(p.deviceId, p.presentedAt);
    return accepted;
  });
  await sessions.markConnected(
    [...connected].map(([deviceId, at]) => ({ deviceId, at })),
    manager,
  );
  return verdicts;
}

const TOKEN_VALUE = /("token"\s*:\s*")(?:[^"\\]|\\.)*("?)/g;

/**
 * A dead-lettered event keeps its bytes for debugging, but never a `"token"` string value: a
 * malformed `device.provisioned` event must not leave its token lying in a table.
 */
export function withoutTokens(payload: Buffer): Buffer {
  const text = payload.toString('utf8');
  const redacted = text.replace(TOKEN_VALUE, '$1[redacted]$2');
  // Bytes without a token stay exactly as received, even when they are not UTF-8.
  return redacted === text ? payload : Buffer.from(redacted);
}
