import {
  createContext,
  openServiceDatabase,
  startHttpListener,
  type RunningService,
} from '@spincycle/common';
import { config } from './config.js';

export async function start(env: NodeJS.ProcessEnv): Promise<RunningService> {
  const context = await createContext('auth-server', config, env);
  const database = await openServiceDatabase(context, { entities: [], migrations: [] });
  // The admin API accepts login and consent decisions: it must never be reachable from outside.
  const admin = await startHttpListener({ context, port: context.config.ADMIN_PORT, host: '127.0.0.1' });
  const publicApi = await startHttpListener({ context, port: context.config.PUBLIC_PORT, ops: false });
  return {
    name: context.name,
    url: admin.url,
    context,
    async close() {
      await Promise.all([publicApi.close(), admin.close()]);
      await database.close();
    },
  };
}
