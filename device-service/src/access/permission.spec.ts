import { describe, expect, it } from 'vitest';
import { accessBasis, Permission, type DeviceAccessFacts, type GrantScope } from './permission.js';

const NOW = new Date('2026-05-01T12:00:00Z');
const HOUR = 3_600_000;
const OWNER = 'owner-1';
const TECH = 'tech-1';

const grant = (
  scope: GrantScope,
  change: { expiresIn?: number; revoked?: boolean; technicianId?: string } = {},
) => ({
  id: `grant-${scope}`,
  technicianId: change.technicianId ?? TECH,
  scope,
  expiresAt: new Date(NOW.getTime() + (change.expiresIn ?? HOUR)),
  revokedAt: change.revoked ? new Date(NOW.getTime() - HOUR) : null,
});

const facts = (grants: DeviceAccessFacts['grants'] = []): DeviceAccessFacts => ({ ownerId: OWNER, grants });

const ALL = Object.values(Permission);
const READS = [Permission.DeviceRead, Permission.EventsRead];

interface Row {
  who: string;
  caller: string;
  facts: DeviceAccessFacts;
  allowed: readonly Permission[];
}

const rows: Row[] = [
  { who: 'owner', caller: OWNER, facts: facts(), allowed: ALL },
  { who: 'technician with a read grant', caller: TECH, facts: facts([grant('read')]), allowed: READS },
  {
    who: 'technician with a control grant',
    caller: TECH,
    facts: facts([grant('control')]),
    allowed: [...READS, Permission.DeviceControl],
  },
  {
    // Grants add up, but to no more than control: sharing, release and provisioning stay the owner's.
    who: 'technician with both a read and a control grant',
    caller: TECH,
    facts: facts([grant('read'), grant('control')]),
    allowed: [...READS, Permission.DeviceControl],
  },
  {
    who: 'technician whose grant expired',
    caller: TECH,
    facts: facts([grant('control', { expiresIn: -1 })]),
    allowed: [],
  },
  {
    who: 'technician whose grant expires this instant',
    caller: TECH,
    facts: facts([grant('read', { expiresIn: 0 })]),
    allowed: [],
  },
  {
    who: 'technician whose grant was revoked',
    caller: TECH,
    facts: facts([grant('control', { revoked: true })]),
    allowed: [],
  },
  {
    who: "technician holding another technician's grant",
    caller: TECH,
    facts: facts([grant('control', { technicianId: 'tech-2' })]),
    allowed: [],
  },
  { who: 'stranger', caller: 'stranger-1', facts: facts(), allowed: [] },
  // Roles are not consulted: an administrator reaches a household's machine like any stranger.
  { who: 'administrator who is not the owner', caller: 'admin-1', facts: facts(), allowed: [] },
  {
    who: 'anyone, on an unclaimed device',
    caller: 'stranger-1',
    facts: { ownerId: null, grants: [] },
    allowed: [],
  },
];

describe('accessBasis', () => {
  const cases = rows.flatMap((row) =>
    ALL.map((permission) => ({ ...row, permission, expected: row.allowed.includes(permission) })),
  );

  it.each(cases)('$who: $permission → $expected', ({ caller, permission, facts: f, expected }) => {
    expect(accessBasis(caller, permission, f, NOW) !== null).toBe(expected);
  });

  it('names the owner as the basis for the owner', () => {
    expect(
      accessBasis(OWNER, Permission.DeviceControl, facts([grant('control', { technicianId: OWNER })]), NOW),
    ).toEqual({ kind: 'owner' });
  });

  it('names the weakest grant that suffices, so the audit log shows what was needed', () => {
    const both = facts([grant('control'), grant('read')]);
    expect(accessBasis(TECH, Permission.DeviceRead, both, NOW)).toEqual({
      kind: 'grant',
      grantId: 'grant-read',
      scope: 'read',
    });
    expect(accessBasis(TECH, Permission.DeviceControl, both, NOW)).toEqual({
      kind: 'grant',
      grantId: 'grant-control',
      scope: 'control',
    });
  });

  it('keeps the first-connect provisioning token to the owner, whatever a technician holds', () => {
    const everything = facts([grant('read'), grant('control')]);
    expect(accessBasis(OWNER, Permission.DeviceProvision, everything, NOW)).toEqual({ kind: 'owner' });
    expect(accessBasis(TECH, Permission.DeviceProvision, everything, NOW)).toBeNull();
  });
});
