import { baseConfig, env } from '@spincycle/common';

export const config = {
  ...baseConfig,
  PORT: env.port(3040, 'HTTP port of hibp-service'),
};
