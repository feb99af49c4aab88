import { createServer } from 'node:net';
import { Aedes, type AuthenticateError } from 'aedes';
import { createContext, listen, startHttpListener, type RunningService } from '@spincycle/common';
import { config } from './config.js';

/** MQTT CONNACK return code 5, "not authorized". */
const NOT_AUTHORIZED = 5;

export async function start(env: NodeJS.ProcessEnv): Promise<RunningService> {
  const context = await createContext('broker', config, env);
  const broker = await Aedes.createBroker({
    // Fail closed: no client is admitted until authorization is delegated to cert-service's
    // webhooks; an open broker would be worse than a closed one.
    authenticate: (_client, _username, _password, done) => {
      const error = Object.assign(new Error('not authorized'), {
        returnCode: NOT_AUTHORIZED,
      }) as AuthenticateError;
      done(error, false);
    },
  });
  const mqtt = createServer(broker.handle);
  await listen(mqtt, context.config.MQTT_DEV_PORT, '127.0.0.1');
  const http = await startHttpListener({ context, port: context.config.HTTP_PORT, host: '127.0.0.1' });
  return {
    name: context.name,
    url: http.url,
    context,
    async close() {
      await new Promise<void>((resolve) => mqtt.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await http.close();
    },
  };
}
