import { createContext, startHttpListener, type RunningService } from '@spincycle/common';
import { config } from './config.js';

export async function start(env: NodeJS.ProcessEnv): Promise<RunningService> {
  const context = await createContext('hibp-service', config, env);
  const listener = await startHttpListener({ context, port: context.config.PORT });
  return { name: context.name, url: listener.url, context, close: () => listener.close() };
}
