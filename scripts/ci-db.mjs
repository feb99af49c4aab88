// Creates or drops the throwaway database of a CI run on the machine's PostgreSQL.
//   node scripts/ci-db.mjs create|drop <admin URL> <name>
import pg from 'pg';

const [action, adminUrl, name] = process.argv.slice(2);
if (!['create', 'drop'].includes(action) || !adminUrl || !/^[a-z_][a-z0-9_]*$/.test(name ?? '')) {
  process.stderr.write('usage: node scripts/ci-db.mjs create|drop <admin URL> <name>\n');
  process.exit(2);
}
const client = new pg.Client({ connectionString: adminUrl });
await client.connect();
try {
  if (action === 'create') await client.query(`CREATE DATABASE "${name}"`);
  else await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
} finally {
  await client.end();
}
