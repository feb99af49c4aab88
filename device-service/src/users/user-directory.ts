import type { Role } from '../identity/caller.js';

/**
 * Finds an account by e-mail, for granting a technician access by the address they gave the
 * owner. user-service owns accounts; this is its lookup as device-service needs it.
 */
export interface UserDirectory {
  findByEmail(email: string): Promise<{ id: string; roles: readonly Role[] } | null>;
}

export const USER_DIRECTORY = Symbol('USER_DIRECTORY');
