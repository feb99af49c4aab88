import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  SERVICE_PERMISSIONS,
  type AccessFacts,
  type DeviceFacts,
  type GrantFacts,
  type Identity,
} from '../../src/acl/topic-acl.js';

/** The authoritative ACL table shared by every part of the system (see DESIGN.md, "Contracts we set"). */
export const ACL_CASES_PATH = new URL('../../../../shared/contracts/topic-acl.cases.json', import.meta.url);
export const VERNEMQ_REFERENCE_DIR = new URL('../../../../shared/reference/vernemq/', import.meta.url);

const day = 24 * 60 * 60 * 1000;

const contractSchema = z.object({
  facts: z.object({
    devices: z.record(
      z.string(),
      z.object({ owner: z.string().nullable(), status: z.enum(['active', 'suspended', 'revoked']) }),
    ),
    users: z.record(z.string(), z.string()),
    grants: z.array(
      z.object({
        technician: z.string(),
        device: z.string(),
        scope: z.enum(['read', 'control']),
        expires: z.enum(['future', 'past']),
        revoked: z.boolean().optional(),
      }),
    ),
    services: z.record(z.string(), z.string()),
  }),
  cases: z.array(
    z.discriminatedUnion('hook', [
      z.object({
        actor: z.string(),
        hook: z.literal('auth_on_publish'),
        topic: z.string(),
        qos: z.number().int(),
        retain: z.boolean().optional(),
        expect: z.enum(['ok', 'not_allowed']),
      }),
      z.object({
        actor: z.string(),
        hook: z.literal('auth_on_subscribe'),
        topics: z.array(z.string()),
        expect: z.array(z.number().int()),
      }),
      z.object({
        actor: z.string(),
        hook: z.literal('auth_on_register'),
        change: z.string().optional(),
        expect: z.enum(['ok', 'not_allowed']),
      }),
    ]),
  ),
});

export type AclContract = z.infer<typeof contractSchema>;
export type AclCase = AclContract['cases'][number];

export function loadAclContract(): AclContract {
  return contractSchema.parse(JSON.parse(readFileSync(ACL_CASES_PATH, 'utf8')));
}

export function expiryOf(expires: 'future' | 'past', now: Date): Date {
  return new Date(now.getTime() + (expires === 'future' ? 30 : -30) * day);
}

/**
 * The identity an actor of the table acts as: devices and services by their tables, anyone else a
 * user. The table's service is device-service, which holds every service permission.
 */
export function identityOf(contract: AclContract, actor: string): Identity {
  if (actor in contract.facts.devices) return { kind: 'device', id: actor };
  if (actor in contract.facts.services)
    return { kind: 'service', id: actor, permissions: SERVICE_PERMISSIONS };
  return { kind: 'user', id: actor };
}

/** The facts the decision sees for one actor and the device a topic names. */
export function accessFactsOf(
  contract: AclContract,
  actor: string,
  deviceId: string,
  now: Date,
): AccessFacts {
  const record = contract.facts.devices[deviceId];
  const device: DeviceFacts | null = record
    ? { id: deviceId, status: record.status, ownerId: record.owner }
    : null;
  const grants: GrantFacts[] = contract.facts.grants
    .filter((g) => g.technician === actor && g.device === deviceId)
    .map((g) => ({ scope: g.scope, expiresAt: expiryOf(g.expires, now), revoked: g.revoked ?? false }));
  return { device, grants, now };
}
