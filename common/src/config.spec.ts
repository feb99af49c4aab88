import { describe, expect, it } from 'vitest';
import { baseConfig, ConfigError, databaseConfig, env, parseConfig, type ConfigShape } from './config.js';

const shape = {
  ...baseConfig,
  ...databaseConfig,
  PORT: env.port(3010, 'HTTP port'),
  API_KEY: env.secret('key for something', 16),
};

const valid = { API_KEY: 'k'.repeat(16) };

function problemsOf(source: Record<string, string>): string[] {
  try {
    parseConfig(shape, source);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('parseConfig', () => {
  it('applies defaults and converts types', () => {
    const config = parseConfig(shape, valid);
    expect(config.PORT).toBe(3010);
    expect(config.HOST).toBe('127.0.0.1');
    expect(config.LOG_LEVEL).toBe('info');
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.SHUTDOWN_TIMEOUT_MS).toBe(10_000);
  });

  it('treats an empty variable as unset', () => {
    expect(parseConfig(shape, { ...valid, PORT: '' }).PORT).toBe(3010);
  });

  it.each([
    ['PORT', 'abc', 'PORT is invalid: expected a TCP port, an integer from 0 to 65535'],
    ['PORT', '65536', 'PORT is invalid: expected a TCP port'],
    ['PORT', '3.5', 'PORT is invalid: expected a TCP port'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL is invalid: expected one of fatal, error, warn, info'],
    [
      'DATABASE_URL',
      'mysql://x@y/z',
      'DATABASE_URL is invalid: expected a URL (postgres:// or postgresql://)',
    ],
    ['SHUTDOWN_TIMEOUT_MS', '5', 'SHUTDOWN_TIMEOUT_MS is invalid: expected an integer from 100 to 600000'],
    ['API_KEY', 'short', 'API_KEY is invalid: expected a secret of at least 16 characters'],
  ])('refuses %s=%s naming the variable and what was expected', (name, value, message) => {
    const problems = problemsOf({ ...valid, [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
  });

  it('names a missing required variable', () => {
    expect(problemsOf({})).toEqual(['API_KEY is required: expected a secret of at least 16 characters']);
  });

  it('never repeats the rejected value, which may be a secret in the wrong place', () => {
    const secretLooking = 'postgres-password-Hunter2-xyz';
    const problems = problemsOf({ ...valid, PORT: secretLooking, API_KEY: 'Hunter2' });
    expect(problems.join(' ')).not.toContain('Hunter2');
    expect(problems).toHaveLength(2);
  });

  it('reports every bad variable on one line', () => {
    const error = (() => {
      try {
        parseConfig(shape, { PORT: 'x', LOG_LEVEL: 'y' });
      } catch (err) {
        return err as Error;
      }
    })();
    expect(error?.message.split('\n')).toHaveLength(1);
    for (const name of ['PORT', 'LOG_LEVEL', 'API_KEY']) expect(error?.message).toContain(name);
  });
});

describe('PORT in a service whose ports have other names', () => {
  const proxy = {
    ...baseConfig,
    PROXY_PORT: env.port(4455, 'public port'),
    ADMIN_PORT: env.optionalPort('admin port'),
  };
  const problems = (source: Record<string, string>, shape: ConfigShape = proxy) => {
    try {
      parseConfig(shape, source, 'proxy');
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  };

  it('is refused, naming the variables that do set its ports', () => {
    expect(problems({ PORT: 'abc' })).toEqual([
      'PORT is not a setting of proxy: its ports are PROXY_PORT, ADMIN_PORT',
    ]);
    expect(problems({ PORT: '4455', LOG_LEVEL: 'loud' })).toHaveLength(2);
  });

  it('is ignored when empty, and in a shape without ports', () => {
    expect(problems({ PORT: '' })).toEqual([]);
    expect(problems({ PORT: 'abc' }, baseConfig)).toEqual([]);
  });
});
