import { baseConfig, databaseConfig, env } from '@spincycle/common';

export const config = {
  ...baseConfig,
  ...databaseConfig,
  PUBLIC_PORT: env.port(4444, 'Public OAuth2/OIDC port of auth-server (Hydra public API)'),
  ADMIN_PORT: env.port(
    4445,
    'Admin port of auth-server (Hydra admin API, health, metrics); always bound to 127.0.0.1',
  ),
};
