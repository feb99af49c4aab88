import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const services = [
  'user-service',
  'device-service',
  'cert-service',
  'hibp-service',
  'auth-server',
  'gateway',
  'broker',
];

export default defineConfig({
  plugins: [
    // NestJS needs decorator metadata, which esbuild does not emit; SWC does.
    swc.vite({
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
        target: 'es2022',
      },
    }),
  ],
  resolve: {
    // Tests run against the sources of common, so a change there needs no build first.
    alias: [
      { find: /^@spincycle\/common$/, replacement: `${root}common/src/index.ts` },
      { find: /^@spincycle\/common\/(nest|testing)$/, replacement: `${root}common/src/$1/index.ts` },
      ...services.flatMap((name) => [
        { find: new RegExp(`^@spincycle/${name}$`), replacement: `${root}${name}/src/app.ts` },
        { find: new RegExp(`^@spincycle/${name}/config$`), replacement: `${root}${name}/src/config.ts` },
      ]),
    ],
  },
  test: {
    include: ['*/src/**/*.spec.ts', '*/test/**/*.test.ts', 'tools/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: more workers only add contention for PGlite start-up and bcrypt.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default'],
  },
});
