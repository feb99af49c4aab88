import { parseArgs } from 'node:util';
import { formatUrls, provision } from './provision.js';

/**
 * `npm run db:provision -- <superuser URL> [--prefix spincycle] [--rotate-passwords]`
 * Prints the DATABASE_URL of each service (and the analytics role) on stdout; progress on stderr.
 */
const usage =
  'usage: npm run db:provision -- <superuser postgres URL> [--prefix spincycle] [--rotate-passwords]\n' +
  '       (the URL may also come from PROVISION_DATABASE_URL)';

function fail(message: string): never {
  process.stderr.write(`db:provision: ${message}\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      prefix: { type: 'string', default: 'spincycle' },
      'rotate-passwords': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (err) {
  fail(`${(err as Error).message}\n${usage}`);
}
if (parsed.values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const adminUrl = parsed.positionals[0] ?? process.env.PROVISION_DATABASE_URL;
if (!adminUrl) fail(`no superuser URL given\n${usage}`);
try {
  const protocol = new URL(adminUrl).protocol;
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') throw new Error();
} catch {
  fail('the superuser URL must be a postgres:// URL');
}

provision({
  adminUrl,
  prefix: parsed.values.prefix,
  rotatePasswords: parsed.values['rotate-passwords'],
  log: (line) => process.stderr.write(`db:provision: ${line}\n`),
}).then(
  (roles) => {
    process.stdout.write(`${formatUrls(adminUrl, roles).join('\n')}\n`);
  },
  (err: Error) => fail(err.message),
);
