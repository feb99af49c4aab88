import type { Role } from '@spincycle/common';

// The tokens carry these roles to every service, so all of them read one list.
export { isRole, ROLES, type Role } from '@spincycle/common';

export const DEFAULT_ROLES: readonly Role[] = ['homeowner'];

/**
 * Who may change whose roles: only an admin, and never their own (an admin cannot lock the last
 * admin out by accident, nor grant themselves anything they do not have).
 */
export function mayAssignRoles(actor: { id: string; roles: readonly Role[] }, targetId: string): boolean {
  return actor.roles.includes('admin') && actor.id !== targetId;
}

/**
 * The requested scopes consent may grant this account. `admin.*` scopes open factory
 * provisioning, firmware and role changes: they reach a token only for an admin, whatever the
 * client is allowed to ask for (a first-party app asks for every scope it may use).
 */
export function grantableScopes(requested: readonly string[], roles: readonly Role[]): string[] {
  const admin = roles.includes('admin');
  return requested.filter((scope) => admin || !scope.startsWith('admin.'));
}
