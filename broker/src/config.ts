import { baseConfig, env } from '@spincycle/common';

export const config = {
  ...baseConfig,
  HTTP_PORT: env.port(3050, 'Internal HTTP port of the broker: health, metrics'),
  MQTT_DEV_PORT: env.port(1884, 'Plain MQTT listener for local development, bound to 127.0.0.1 only'),
};
