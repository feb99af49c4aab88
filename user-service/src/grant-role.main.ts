import { grantRole, parseRole } from './grant-role.js';

const [email, role] = process.argv.slice(2);
grantRole(process.env, email ?? '', parseRole(role)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`grant-role: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
