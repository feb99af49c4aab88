import { baseConfig, databaseConfig, env } from '@spincycle/common';

export const config = {
  ...baseConfig,
  ...databaseConfig,
  PORT: env.port(3010, 'HTTP port of user-service'),
};
