export const ROLES = ['homeowner', 'technician', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const DEFAULT_ROLES: readonly Role[] = ['homeowner'];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/**
 * Who may change whose roles: only an admin, and never their own (an admin cannot lock the last
 * admin out by accident, nor grant themselves anything they do not have).
 */
export function mayAssignRoles(actor: { id: string; roles: readonly Role[] }, targetId: string): boolean {
  return actor.roles.includes('admin') && actor.id !== targetId;
}
