import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Builds one of the benchmarks' C load generators with the machine's C compiler, once per version
 * of its source; undefined, with the reason on stderr, where it cannot be built (no compiler, no
 * OpenSSL headers), so that the benchmark falls back to its Node twin.
 */
export async function buildC(source: string, libraries: string[] = []): Promise<string | undefined> {
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
  const binary = join(tmpdir(), `spincycle-${basename(source, '.c')}-${hash}`);
  if (existsSync(binary)) return binary;
  try {
    await promisify(execFile)(process.env.CC ?? 'cc', ['-O2', '-o', binary, source, ...libraries]);
    return binary;
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    process.stderr.write(`${basename(source)} not built (${reason}): using the Node twin\n`);
    return undefined;
  }
}
