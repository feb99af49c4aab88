import { defineNestService } from '@spincycle/common/nest';
import { AppModule } from './app.module.js';
import { config } from './config.js';
import { migrations } from './database/migrations.js';

export const start = defineNestService({
  name: 'cert-service',
  config,
  port: (c) => c.PORT,
  root: (core) => AppModule.forRoot(core),
  schema: { entities: [], migrations },
  // One call per MQTT connect, publish and subscribe: counted in metrics, not logged one by one.
  quietRoutes: ['/webhooks/vernemq'],
});
