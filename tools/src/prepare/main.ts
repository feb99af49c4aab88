import { pgliteTemplate, pgliteTemplatePath } from '@spincycle/common';

/**
 * Run at install time: prepares what the first `npm start` would otherwise spend its first
 * seconds on (the initialised embedded database cluster).
 */
const started = Date.now();
await pgliteTemplate();
process.stderr.write(
  `prepare: PGlite template ready at ${pgliteTemplatePath()} (${Date.now() - started} ms)\n`,
);
