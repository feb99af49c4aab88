import type { RunningService } from '@spincycle/common';
import { defineNestService, type CoreModuleOptions } from '@spincycle/common/nest';
import { AppModule, type DeviceServiceDependencies } from './app.module.js';
import { config } from './config.js';
import { migrations } from './database/migrations.js';

export type { DeviceServiceDependencies } from './app.module.js';

export interface EmbeddingOptions extends DeviceServiceDependencies {
  /** Hands the embedding process (the benchmark, tests) the service's database once it is open. */
  onDatabase?: (database: NonNullable<CoreModuleOptions['database']>) => void;
}

/** device-service's start function, with its outside dependencies given rather than configured. */
export function startWith(options: EmbeddingOptions): (env: NodeJS.ProcessEnv) => Promise<RunningService> {
  return defineNestService({
    name: 'device-service',
    config,
    port: (c) => c.PORT,
    root: (core) => {
      if (core.database) options.onDatabase?.(core.database);
      return AppModule.forRoot(core, options);
    },
    schema: { entities: [], migrations },
    // Firmware images arrive as raw bytes: handed to the route as the request stream, which
    // enforces its own size limit while writing to disk.
    configureHttp: (fastify) => {
      fastify.addContentTypeParser('application/octet-stream', (_request, payload, done) =>
        done(null, payload),
      );
    },
  });
}

export const start = startWith({});
