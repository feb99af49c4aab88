import { createContext, startHttpListener, type RunningService } from '@spincycle/common';
import { config } from './config.js';

export async function start(env: NodeJS.ProcessEnv): Promise<RunningService> {
  const context = await createContext('gateway', config, env);
  const api = await startHttpListener({ context, port: context.config.API_PORT, host: '127.0.0.1' });
  // Until rules are loaded nothing matches, and Oathkeeper answers an unmatched request with 404.
  const proxy = await startHttpListener({ context, port: context.config.PROXY_PORT, ops: false });
  return {
    name: context.name,
    url: api.url,
    context,
    async close() {
      await Promise.all([proxy.close(), api.close()]);
    },
  };
}
