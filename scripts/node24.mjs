#!/usr/bin/env node
// Runs a command under Node.js 24. The project targets Node 24 LTS, but machines may ship an older
// `node`; instead of asking for a manual install we fetch the official binary that the Node.js
// project publishes on the npm registry (`node-<platform>-<arch>`) into `.tools/`, and put it first
// on PATH so that every `#!/usr/bin/env node` below this command (npm, tsc, vitest, services) runs
// on it. This file must itself run on old Node versions: plain JavaScript, no dependencies.
//
//   node scripts/node24.mjs <command> [args...]   run the command with Node 24 first on PATH
//   node scripts/node24.mjs --bin-dir              print the directory holding Node 24's `node`
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants as osConstants } from 'node:os';

const NODE_VERSION = '24.21.0';
const REQUIRED_MAJOR = 24;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const currentMajor = Number(process.versions.node.split('.')[0]);

function fetchNode() {
  const pkg = `node-${process.platform}-${process.arch}`;
  const target = join(root, '.tools', `node-${NODE_VERSION}`);
  if (existsSync(join(target, 'bin', 'node'))) return target;
  mkdirSync(join(root, '.tools'), { recursive: true });
  // Unpack next to the target and rename, so an interrupted download never looks installed.
  const work = mkdtempSync(join(root, '.tools', 'fetch-'));
  try {
    process.stderr.write(`node24: fetching ${pkg}@${NODE_VERSION} from the npm registry\n`);
    const tarball = execFileSync(
      'npm',
      ['pack', `${pkg}@${NODE_VERSION}`, '--pack-destination', work, '--silent'],
      { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    )
      .trim()
      .split('\n')
      .pop();
    execFileSync('tar', ['-xzf', join(work, tarball), '-C', work], { stdio: 'inherit' });
    if (!existsSync(target)) renameSync(join(work, 'package'), target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return target;
}

function nodeHome() {
  if (currentMajor >= REQUIRED_MAJOR) return dirname(dirname(process.execPath));
  return fetchNode();
}

const args = process.argv.slice(2);
if (args.length === 0) {
  process.stderr.write('usage: node scripts/node24.mjs <command> [args...] | --bin-dir\n');
  process.exit(2);
}

const home = nodeHome();
const binDir = join(home, 'bin');
if (args[0] === '--bin-dir') {
  process.stdout.write(`${binDir}\n`);
  process.exit(0);
}

const env = { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ''}` };
if (currentMajor < REQUIRED_MAJOR) {
  // Native addons must be built against the headers of the Node that will load them.
  env.npm_config_nodedir = home;
}

const child = spawn(args[0], args.slice(1), { stdio: 'inherit', env });
// A terminal's Ctrl-C reaches the whole process group; we only wait for the child to finish its
// own graceful shutdown. A signal sent to this process alone is passed on.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (child.exitCode === null) child.kill(signal);
  });
}
child.on('error', (err) => {
  process.stderr.write(`node24: cannot run ${args[0]}: ${err.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  // A child killed by a signal is a failure, whatever the signal: the shell convention 128 + n.
  process.exit(code ?? 128 + (signal ? osConstants.signals[signal] : 0));
});
