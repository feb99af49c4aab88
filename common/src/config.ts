import { z } from 'zod';

/**
 * Configuration is read from the environment once, at start-up, against a zod schema. Every
 * variable carries its documentation (description, default, whether it is a secret) so that the
 * README's configuration table is generated from the same schema that validates it.
 */
export interface VarDoc {
  description: string;
  /** What a valid value looks like, used in error messages and in the README. */
  expected: string;
  default?: string;
  secret?: boolean;
}

const docs = new WeakMap<z.ZodType, VarDoc>();

function documented<T extends z.ZodType>(schema: T, doc: VarDoc): T {
  docs.set(schema, doc);
  return schema;
}

export function docOf(schema: z.ZodType): VarDoc | undefined {
  return docs.get(schema);
}

/** Treats an empty string like an unset variable, as shells and compose files often produce them. */
function raw(): z.ZodType<string | undefined> {
  return z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());
}

function parsed<T>(expected: string, parse: (value: string) => T | undefined): z.ZodType<T | undefined> {
  return raw().transform((value, ctx) => {
    if (value === undefined) return undefined;
    const result = parse(value);
    if (result === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${expected}` });
      return z.NEVER;
    }
    return result;
  });
}

function withDefault<T>(schema: z.ZodType<T | undefined>, fallback: T): z.ZodType<T> {
  return schema.transform((v) => (v === undefined ? fallback : v));
}

function required<T>(schema: z.ZodType<T | undefined>, expected: string): z.ZodType<T> {
  return schema.transform((v, ctx) => {
    if (v === undefined) {
      ctx.addIssue({ code: 'custom', message: `is required: expected ${expected}` });
      return z.NEVER;
    }
    return v;
  });
}

const parseInteger = (min: number, max: number) => (value: string) => {
  if (!/^-?\d+$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
};

const TCP_PORT = 'a TCP port, an integer from 0 to 65535';

export const env = {
  /** A TCP port. 0 asks the operating system for a free one (tests use it). */
  port(fallback: number, description: string) {
    return documented(withDefault(parsed(TCP_PORT, parseInteger(0, 65535)), fallback), {
      description,
      expected: TCP_PORT,
      default: String(fallback),
    });
  },

  /** A TCP port for a listener that is off unless the variable is set. */
  optionalPort(description: string) {
    return documented(parsed(TCP_PORT, parseInteger(0, 65535)), { description, expected: TCP_PORT });
  },

  integer(fallback: number, description: string, range: { min: number; max: number }) {
    const expected = `an integer from ${range.min} to ${range.max}`;
    return documented(withDefault(parsed(expected, parseInteger(range.min, range.max)), fallback), {
      description,
      expected,
      default: String(fallback),
    });
  },

  boolean(fallback: boolean, description: string) {
    const expected = 'true or false';
    const parse = (v: string) =>
      v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : undefined;
    return documented(withDefault(parsed(expected, parse), fallback), {
      description,
      expected,
      default: String(fallback),
    });
  },

  string(fallback: string, description: string) {
    const expected = 'a non-empty string';
    return documented(
      withDefault(
        parsed(expected, (v) => v),
        fallback,
      ),
      { description, expected, default: fallback },
    );
  },

  oneOf<const T extends readonly [string, ...string[]]>(values: T, fallback: T[number], description: string) {
    const expected = `one of ${values.join(', ')}`;
    const parse = (v: string) => ((values as readonly string[]).includes(v) ? (v as T[number]) : undefined);
    return documented(withDefault(parsed(expected, parse), fallback), {
      description,
      expected,
      default: fallback,
    });
  },

  /** An absolute URL with one of the given schemes; optional unless `fallback` is given. */
  url<O extends { schemes: string[]; fallback?: string; secret?: boolean }>(
    description: string,
    options: O,
  ): z.ZodType<O extends { fallback: string } ? string : string | undefined> {
    const expected = `a URL (${options.schemes.map((s) => `${s}://`).join(' or ')})`;
    const parse = (v: string) => {
      try {
        const u = new URL(v);
        return options.schemes.includes(u.protocol.replace(/:$/, '')) ? v : undefined;
      } catch {
        return undefined;
      }
    };
    const schema = parsed(expected, parse);
    const doc: VarDoc = { description, expected, secret: options.secret ?? false };
    const result =
      options.fallback !== undefined
        ? documented(withDefault(schema, options.fallback), { ...doc, default: options.fallback })
        : documented(schema, doc);
    return result as z.ZodType<O extends { fallback: string } ? string : string | undefined>;
  },

  /** A required secret: never echoed in errors, logs or the README. */
  secret(description: string, minLength: number): z.ZodType<string> {
    const expected = `a secret of at least ${minLength} characters`;
    const schema = parsed(expected, (v) => (v.length >= minLength ? v : undefined));
    return documented(required(schema, expected), { description, expected, secret: true });
  },

  optionalSecret(description: string, minLength: number): z.ZodType<string | undefined> {
    const expected = `a secret of at least ${minLength} characters`;
    const schema = parsed(expected, (v) => (v.length >= minLength ? v : undefined));
    return documented(schema, { description, expected, secret: true });
  },

  /** An optional free-form value, such as a file path. */
  optional(description: string, expected = 'a non-empty string') {
    return documented(
      parsed(expected, (v) => v),
      { description, expected },
    );
  },
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

export type ConfigShape = Record<string, z.ZodType>;
export type ConfigOf<S extends ConfigShape> = { [K in keyof S]: z.output<S[K]> };

/**
 * `PORT` is the one port variable most platforms and habits set, so a service whose ports have
 * other names refuses it rather than start somewhere the operator did not ask for.
 */
function strayPort(shape: ConfigShape, source: NodeJS.ProcessEnv, service: string): string[] {
  if ('PORT' in shape || source.PORT === undefined || source.PORT === '') return [];
  const ports = Object.entries(shape)
    .filter(([, schema]) => docOf(schema)?.expected === TCP_PORT)
    .map(([name]) => name);
  if (ports.length === 0) return [];
  return [`PORT is not a setting of ${service}: its ports are ${ports.join(', ')}`];
}

/**
 * Parses the environment against the schema. The error names each bad variable and what was
 * expected, but never repeats the value: it may be a secret pasted into the wrong variable.
 */
export function parseConfig<S extends ConfigShape>(
  shape: S,
  source: NodeJS.ProcessEnv = process.env,
  service = 'this service',
): ConfigOf<S> {
  const result = z.object(shape).safeParse(source);
  const problems = strayPort(shape, source, service);
  if (result.success && problems.length === 0) return result.data as ConfigOf<S>;
  for (const issue of result.error?.issues ?? []) {
    const name = issue.path.map(String).join('.') || '(environment)';
    problems.push(`${name} ${issue.message.startsWith('is required') ? '' : 'is invalid: '}${issue.message}`);
  }
  throw new ConfigError(problems);
}

/** Like parseConfig, but a bad configuration ends the process with one line on stderr. */
export function loadConfig<S extends ConfigShape>(
  service: string,
  shape: S,
  source: NodeJS.ProcessEnv = process.env,
): ConfigOf<S> {
  try {
    return parseConfig(shape, source, service);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${service}: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** Variables every service reads. */
export const baseConfig = {
  HOST: env.string('127.0.0.1', 'Address the HTTP listener binds to'),
  LOG_LEVEL: env.oneOf(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
    'info',
    'Minimum level of log lines written to stdout',
  ),
  SENTRY_DSN: env.url('Sentry DSN; crash reporting is off when unset', {
    schemes: ['https', 'http'],
    secret: true,
  }),
  SHUTDOWN_TIMEOUT_MS: env.integer(10_000, 'How long a graceful shutdown may take before exit', {
    min: 100,
    max: 600_000,
  }),
};

/** Variables of services that own a database. */
export const databaseConfig = {
  DATABASE_URL: env.url(
    'PostgreSQL connection URL; when unset, an embedded PGlite database is used under DATA_DIR',
    { schemes: ['postgres', 'postgresql'], secret: true },
  ),
  DATA_DIR: env.string('.data', 'Directory for local state (embedded database, keys, files)'),
  DATABASE_POOL_SIZE: env.integer(10, 'Maximum PostgreSQL connections of this process', {
    min: 1,
    max: 200,
  }),
};
