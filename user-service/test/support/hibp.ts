import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestDatabase, serviceTestEnv } from '@spincycle/common/testing';
import { start as startHibpService, type HibpService } from '@spincycle/hibp-service';
import { buildFilter } from '../../../hibp-service/src/build/builder.js';

export interface RunningHibp {
  url: string;
  service: HibpService;
  /** Checks hibp-service has answered so far, by result, from its /metrics. */
  checks(): Promise<{ pwned: number; clean: number }>;
  /** Stops the service; calling it again does nothing, so a test may stop it early. */
  close(): Promise<void>;
}

/**
 * The real hibp-service, answering from a filter built by its own builder out of the SHA-1 of
 * `leakedPasswords`, in the corpus's `SHA1:COUNT` format. A filter this small builds in
 * milliseconds, so every stack gets its own and knows exactly which passwords are leaked.
 */
export async function startHibp(leakedPasswords: string[]): Promise<RunningHibp> {
  // hibp-service keeps no database: this only gives it a temporary DATA_DIR, removed at the end.
  const scratch = await createTestDatabase('hibp');
  let service: HibpService | undefined;
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await service?.close();
      await scratch.drop();
    })());
  try {
    const corpus = join(scratch.env.DATA_DIR, 'corpus.txt');
    const filter = join(scratch.env.DATA_DIR, 'leaked.filter');
    const lines = leakedPasswords.map(
      (password, i) => `${createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase()}:${i + 1}`,
    );
    await writeFile(corpus, `${lines.join('\n')}\n`);
    await buildFilter({ input: corpus, output: filter });
    service = await startHibpService(
      serviceTestEnv(scratch, { PORT: '0', HIBP_FILTER_PATH: filter, HIBP_WATCH_FILTER: 'false' }),
    );
  } catch (err) {
    await close();
    throw err;
  }
  const running = service;
  return {
    url: running.url,
    service: running,
    async checks() {
      const metrics = await (await fetch(`${running.url}/metrics`)).text();
      const count = (result: string) =>
        Number(
          new RegExp(`^hibp_checks_total\\{result="${result}"[^}]*\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0,
        );
      return { pwned: count('pwned'), clean: count('clean') };
    },
    close,
  };
}
