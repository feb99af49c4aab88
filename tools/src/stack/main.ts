import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable, Stack } from './stack.js';

/**
 * `npm start`: runs the whole embedded stack on 127.0.0.1, prints where everything is, and stops
 * every process on Ctrl-C (SIGINT) or SIGTERM.
 */
const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const env = process.env;
const dataDir = resolve(root, env.SPINCYCLE_DATA_DIR ?? '.data');
const out = (line: string) => process.stdout.write(`${line}\n`);

const readyTimeoutMs = Number(env.SPINCYCLE_READY_TIMEOUT_MS ?? 60_000);

let stack: Stack;
try {
  if (!Number.isSafeInteger(readyTimeoutMs) || readyTimeoutMs < 1000) {
    throw new Error(
      'SPINCYCLE_READY_TIMEOUT_MS is invalid: expected an integer of at least 1000 (milliseconds)',
    );
  }
  stack = new Stack({ root, env, dataDir, readyTimeoutMs, out });
} catch (err) {
  process.stderr.write(`spincycle: ${(err as Error).message}\n`);
  process.exit(1);
}

let stopping: Promise<void> | undefined;
function stop(code: number): void {
  stopping ??= stack.stop().then(() => {
    out(code === 0 ? 'spincycle: stopped' : 'spincycle: stopped after a failure');
    process.exit(code);
  });
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
process.on('SIGHUP', () => stop(0));

out(`spincycle: starting ${dataDir === resolve(root, '.data') ? '' : `(data in ${dataDir}) `}…`);
stack
  .start((status, logTail) => {
    process.stderr.write(
      `spincycle: ${status.name} exited unexpectedly; last lines of ${status.log}:\n${logTail}\n`,
    );
    stop(1);
  })
  .then(
    (statuses) => {
      out(formatTable(statuses));
      out(`\nstatus: ${stack.statusFile}   logs: ${resolve(dataDir, 'logs')}   Ctrl-C stops everything`);
    },
    (err: Error) => {
      process.stderr.write(`spincycle: ${err.message}\n`);
      stop(1);
    },
  );
