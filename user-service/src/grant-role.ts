import { createContext, openServiceDatabase } from '@spincycle/common';
import { normaliseEmail } from './accounts/email.js';
import { isRole, type Role } from './accounts/roles.js';
import { config } from './config.js';
import { migrations } from './database/migrations.js';

/**
 * Gives an account a role straight in the database: how the first admin comes to exist, since
 * only an admin may change roles through the API. Run by an operator with the service's
 * configuration (`npm run grant-role -w @spincycle/user-service -- <email> <role>`).
 */
export async function grantRole(env: NodeJS.ProcessEnv, emailInput: string, role: Role): Promise<void> {
  const email = normaliseEmail(emailInput);
  if (!email) throw new Error('not an e-mail address');
  const context = await createContext('user-service', config, env);
  const database = await openServiceDatabase(context, { migrations });
  try {
    // TypeORM answers UPDATE on PostgreSQL with [rows, affected count].
    const [, updated]: [unknown[], number] = await database.dataSource.query(
      `UPDATE users SET roles = ARRAY(SELECT DISTINCT unnest(roles || $2::text[]))
       WHERE lower(email) = lower($1)`,
      [email, [role]],
    );
    if (updated === 0) throw new Error('no account has this e-mail address');
    context.logger.info(
      { audit: 'account.roles_changed', email, added: role, by: 'operator' },
      'role granted',
    );
  } finally {
    await database.close();
  }
}

export function parseRole(value: string | undefined): Role {
  if (value === undefined || !isRole(value)) throw new Error('role must be homeowner, technician or admin');
  return value;
}
