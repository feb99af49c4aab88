import { baseConfig, databaseConfig, env } from '@spincycle/common';

export const config = {
  ...baseConfig,
  ...databaseConfig,
  PORT: env.port(3020, 'HTTP port of device-service'),
};
