import type { RunningService } from '@spincycle/common';
import { defineNestService, LOGGER } from '@spincycle/common/nest';
import { AppModule, type CertServiceEmbedding } from './app.module.js';
import { config } from './config.js';
import { migrations } from './database/migrations.js';
import { CERT_CONFIG } from './tokens.js';
import { webhookRoute } from './webhooks/webhooks.route.js';
import { WebhooksService } from './webhooks/webhooks.service.js';

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
    directRoutes: (app) => [webhookRoute(app.get(WebhooksService), app.get(CERT_CONFIG), app.get(LOGGER))],
  });
}

export const start = startWith({});
