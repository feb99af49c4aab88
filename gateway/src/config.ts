import { baseConfig, env } from '@spincycle/common';

export const config = {
  ...baseConfig,
  PROXY_PORT: env.port(4455, 'Public port of the access proxy (Oathkeeper proxy)'),
  API_PORT: env.port(4456, 'Internal port of the access proxy: health, metrics (Oathkeeper API)'),
};
