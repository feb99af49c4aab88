import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderReadme } from './generate.js';

/** `npm run docs:config` rewrites the README's generated tables; `-- --check` only verifies them. */
const readmePath = fileURLToPath(new URL('../../../README.md', import.meta.url));
const current = readFileSync(readmePath, 'utf8');
const rendered = renderReadme(current);
if (process.argv.includes('--check')) {
  if (rendered !== current) {
    process.stderr.write('README.md tables are out of date: run `npm run docs:config`\n');
    process.exit(1);
  }
} else if (rendered !== current) {
  writeFileSync(readmePath, rendered);
  process.stderr.write('README.md tables updated\n');
}
