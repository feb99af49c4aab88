/** What a caller wants to do with a device. Every service method names one before it reads or writes. */
export enum Permission {
  /** See the device, its state and settings. */
  DeviceRead = 'device.read',
  /** Change its settings (sent to it as a command). */
  DeviceControl = 'device.control',
  /** Rename it. */
  DeviceUpdate = 'device.update',
  /** Grant, list and revoke technician access, and read the audit log. */
  DeviceShare = 'device.share',
  /** Release it. */
  DeviceRelease = 'device.release',
  /** Issue its first-connect provisioning token and follow whether the device presented it. */
  DeviceProvision = 'device.provision',
  /** Read the events it reported. */
  EventsRead = 'events.read',
}

export type GrantScope = 'read' | 'control';

/** The facts one decision rests on: who owns the device, and the caller's own grants on it. */
export interface DeviceAccessFacts {
  ownerId: string | null;
  grants: { id: string; technicianId: string; scope: GrantScope; expiresAt: Date; revokedAt: Date | null }[];
}

/** Why access was given: the caller owns the device, or holds this grant. */
export type AccessBasis = { kind: 'owner' } | { kind: 'grant'; grantId: string; scope: GrantScope };

/** Which grant scopes allow a permission; permissions absent here are the owner's alone. */
const GRANTABLE: Partial<Record<Permission, readonly GrantScope[]>> = {
  [Permission.DeviceRead]: ['read', 'control'],
  [Permission.EventsRead]: ['read', 'control'],
  [Permission.DeviceControl]: ['control'],
};

/**
 * The one rule of device access, without I/O. The owner may do everything; a technician what a
 * live (unrevoked, unexpired) grant of theirs allows; nobody else anything. An administrator's
 * role opens the factory and firmware endpoints, not a household's machines.
 */
export function accessBasis(
  callerId: string,
  permission: Permission,
  facts: DeviceAccessFacts,
  now: Date,
): AccessBasis | null {
  if (facts.ownerId !== null && facts.ownerId === callerId) return { kind: 'owner' };
  const scopes = GRANTABLE[permission] ?? [];
  const usable = facts.grants.filter(
    (g) =>
      g.technicianId === callerId &&
      g.revokedAt === null &&
      g.expiresAt.getTime() > now.getTime() &&
      scopes.includes(g.scope),
  );
  // Prefer the grant with the least power that suffices, so the audit names what was needed.
  usable.sort((a, b) => (a.scope === b.scope ? 0 : a.scope === 'read' ? -1 : 1));
  const grant = usable[0];
  return grant ? { kind: 'grant', grantId: grant.id, scope: grant.scope } : null;
}
