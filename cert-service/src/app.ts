import type { RunningService } from '@spincycle/common';
import { defineNestService } from '@spincycle/common/nest';
import { AppModule, type CertServiceEmbedding } from './app.module.js';
import { config } from './config.js';
import { migrations } from './database/migrations.js';

export type { CertServiceEmbedding } from './app.module.js';

/** cert-service's start function, with what an embedding process (a test) sets in code. */
export function startWith(
  embedding: CertServiceEmbedding,
): (env: NodeJS.ProcessEnv) => Promise<RunningService> {
  return defineNestService({
    name: 'cert-service',
    config,
    port: (c) => c.PORT,
    root: (core) => AppModule.forRoot(core, embedding),
    schema: { entities: [], migrations },
    // One call per MQTT connect, publish and subscribe: counted in metrics, not logged one by one.
    quietRoutes: ['/webhooks/vernemq'],
  });
}

export const start = startWith({});
