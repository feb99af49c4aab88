/**
 * Runs paced-load.c, the open-loop client in C, built here with the machine's C compiler; where
 * there is none, `nativeClient()` says so and the benchmark falls back to paced-client.mjs.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requestBytes } from './paced-client.mjs';

const source = join(dirname(fileURLToPath(import.meta.url)), 'paced-load.c');

/** Builds the client once per source version; undefined when no C compiler is at hand. */
export async function nativeClient() {
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
  const binary = join(tmpdir(), `spincycle-paced-load-${hash}`);
  if (!existsSync(binary)) {
    try {
      await promisify(execFile)(process.env.CC ?? 'cc', ['-O2', '-o', binary, source]);
    } catch (err) {
      process.stderr.write(`no native load generator (${err.message.split('\n')[0]}): using the Node one\n`);
      return undefined;
    }
  }
  return (options) => run(binary, options);
}

/** Same options and result as paced-client.mjs's pacedLoad, plus the client's CPU per request. */
function run(binary, options) {
  const args = [
    options.host,
    options.port,
    options.rate,
    options.seconds,
    options.connections,
    options.expect,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args.map(String), { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`paced-load exited with ${code}`));
      const result = JSON.parse(out);
      resolve({
        perSecond: result.perSecond,
        p99: result.p99,
        errors: result.errors,
        sent: result.sent,
        client: {
          sendLagP99: result.sendLagP99,
          cpuMicroseconds: (result.cpuSeconds / result.sent) * 1e6,
        },
      });
    });
    child.stdin.end(requestBytes(options));
  });
}
