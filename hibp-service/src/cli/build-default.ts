import { parseConfig } from '@spincycle/common';
import { defaultFilterPath, ensureDefaultFilter } from '../build/default-filter.js';
import { config } from '../config.js';

/**
 * Writes DATA_DIR/hibp/default.filter (DATA_DIR defaults to `.data` under the working directory)
 * from the bundled common-passwords list, unless it is already current. Run at install time so the
 * first start need not build it.
 */
async function main(): Promise<void> {
  const { DATA_DIR } = parseConfig({ DATA_DIR: config.DATA_DIR }, process.env);
  const path = defaultFilterPath(DATA_DIR);
  const outcome = await ensureDefaultFilter(path);
  process.stderr.write(`hibp default filter ${path}: ${outcome === 'built' ? 'built' : 'already current'}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`build-default: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
