import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 at the time of asking, for a service the benchmark starts. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/**
 * CPU time (user + system) a process has used so far, from /proc; undefined once it is gone or
 * where there is no /proc. Benchmarks report it beside rates: the shared machine's load moves
 * requests/s far more than it moves CPU time per request.
 */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // The command name, in parentheses, may hold spaces: the fields are counted after it.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

/**
 * Read and write system calls a process has made so far (`syscr` + `syscw` of /proc/<pid>/io),
 * undefined where that is not readable. On a virtual machine with page-table isolation each costs
 * several microseconds, so how many a message takes explains much of its CPU.
 */
export function ioCalls(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1]);
    const calls = field('syscr') + field('syscw');
    return Number.isNaN(calls) ? undefined : calls;
  } catch {
    return undefined;
  }
}
