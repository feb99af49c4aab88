import { baseConfig, env } from '@spincycle/common';

export const config = {
  ...baseConfig,
  PORT: env.port(3040, 'HTTP port of hibp-service'),
  DATA_DIR: env.string(
    '.data',
    'Directory for local state; the default filter is DATA_DIR/hibp/default.filter',
  ),
  HIBP_FILTER_PATH: env.optional(
    'Filter file built by hibp-service/dist/cli/build.js; when unset, the default filter built from the bundled common-passwords list',
    'a file path',
  ),
  HIBP_EXACT_INDEX_PATH: env.optional(
    'Exact index written by the builder with --exact-index; enables GET /range/{prefix}',
    'a file path',
  ),
  HIBP_WATCH_FILTER: env.boolean(true, 'Reload the filter when its file is replaced (SIGHUP always reloads)'),
};
