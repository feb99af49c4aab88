/**
 * Runs paced-load.c, the open-loop client in C, built here with the machine's C compiler; where
 * there is none, `nativeClient()` says so and the benchmark falls back to paced-client.mjs.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildC } from '../support/native.ts';
import { requestBytes } from './paced-client.mjs';

const source = join(dirname(fileURLToPath(import.meta.url)), 'paced-load.c');

/** The client, built once per source version; undefined when it cannot be built here. */
export async function nativeClient() {
  const binary = await buildC(source);
  return binary && ((options) => run(binary, options));
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
