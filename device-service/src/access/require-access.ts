import { DeviceNotFound } from '../errors.js';
import type { Caller } from '../identity/caller.js';
import type { AccessRepository } from './access.repository.js';
import { accessBasis, type AccessBasis, type Permission } from './permission.js';

export interface AccessRequest {
  caller: Caller;
  permission: Permission;
  ids: readonly string[];
  /** Defaults to the present; tests of expiry pass their own. */
  now?: Date;
}

/**
 * The one door to device resources: called at the top of every service method that touches a
 * device. Answers why each id may be touched; refuses with DeviceNotFound ("not found or no
 * access", the same 404) if any may not, so a stranger cannot tell a foreign device from a missing
 * one. Access under a technician grant is written to the owner's audit log here, so no endpoint
 * can forget it.
 */
export async function requireAccess(
  access: AccessRepository,
  { caller, permission, ids, now = new Date() }: AccessRequest,
): Promise<Map<string, AccessBasis>> {
  const facts = await access.loadFacts(caller.id, ids);
  const allowed = new Map<string, AccessBasis>();
  for (const id of ids) {
    const deviceFacts = facts.get(id);
    const basis = deviceFacts ? accessBasis(caller.id, permission, deviceFacts, now) : null;
    if (basis === null) throw new DeviceNotFound();
    allowed.set(id, basis);
  }
  await access.recordGrantUse(
    [...allowed].flatMap(([deviceId, basis]) =>
      basis.kind === 'grant' ? [{ deviceId, grantId: basis.grantId, actorId: caller.id, permission }] : [],
    ),
  );
  return allowed;
}
