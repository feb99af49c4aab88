import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configTables, renderReadme, SERVICE_CONFIGS } from '../src/config-docs/generate.js';
import { STACK } from '../src/stack/services.js';

describe('README', () => {
  const readme = readFileSync('README.md', 'utf8');

  it('has the ports and configuration tables generated from the stack and the zod schemas', () => {
    // When this fails, run `npm run docs:config` and commit the README.
    expect(renderReadme(readme)).toBe(readme);
  });

  it('documents every variable of every service', () => {
    const tables = configTables();
    for (const shape of Object.values(SERVICE_CONFIGS)) {
      for (const name of Object.keys(shape)) expect(tables).toContain(`\`${name}\``);
    }
  });

  it('covers every service of the stack', () => {
    expect(Object.keys(SERVICE_CONFIGS).sort()).toEqual(STACK.map((s) => s.name).sort());
  });

  it('never prints a secret default', () => {
    expect(configTables()).not.toMatch(/SENTRY_DSN` \| `/);
  });
});
