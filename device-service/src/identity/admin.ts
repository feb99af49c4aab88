import { AdminRequired } from '../errors.js';
import type { Caller } from './caller.js';

/**
 * Factory and firmware operations: the caller must be an administrator and hold the operation's
 * admin scope. The access proxy checks the scope on its admin rule set; this checks both again, so
 * an access rule published by mistake does not open them.
 */
export function requireAdmin(caller: Caller, scope: 'admin.provision' | 'admin.firmware'): void {
  if (!caller.roles.has('admin') || !caller.scopes.has(scope)) throw new AdminRequired();
}
