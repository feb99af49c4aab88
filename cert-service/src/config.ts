import { baseConfig, databaseConfig, env } from '@spincycle/common';

export const config = {
  ...baseConfig,
  ...databaseConfig,
  PORT: env.port(3030, 'HTTP port of cert-service'),
};
