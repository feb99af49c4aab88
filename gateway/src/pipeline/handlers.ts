import { describeErrors, handlerConfigValidator } from '../rules/schemas.js';
import { parseDuration } from './duration.js';
import {
  introspectionAuthenticator,
  type IntrospectionClient,
  type IntrospectionConfig,
} from './introspection.js';
import type { SigningKeys } from './signing-keys.js';
import { compileTemplate, type Template, type TemplateData } from './template.js';
import {
  forbidden,
  internal,
  NOT_RESPONSIBLE,
  unauthorized,
  type AuthenticationSession,
  type Authenticator,
  type Authorizer,
  type Mutator,
  type PipelineRequest,
} from './types.js';

/** A handler entry of a rule: `{ "handler": "header", "config": { … } }`. */
export interface HandlerRef {
  handler: string;
  config?: unknown;
}

/** The global part of each handler's configuration (Oathkeeper's config file); rules override it. */
export interface HandlerDefaults {
  oauth2_introspection: Partial<IntrospectionConfig>;
  id_token: { issuer_url?: string; jwks_url: string; ttl: string };
  anonymous: { subject: string };
}

export interface HandlerContext {
  defaults: HandlerDefaults;
  introspection: IntrospectionClient;
  keys: SigningKeys;
}

export class HandlerConfigError extends Error {
  override name = 'HandlerConfigError';
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Rule config over global config, as Oathkeeper merges them: objects deeply, anything else replaced. */
export function mergeConfig(base: unknown, override: unknown): unknown {
  if (!isObject(base) || !isObject(override)) return override === undefined ? base : override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = mergeConfig(base[key], value);
  return merged;
}

function validated<T>(ref: HandlerRef, definition: string, defaults: unknown = {}): T {
  const config = mergeConfig(defaults, ref.config ?? {});
  const validate = handlerConfigValidator(definition);
  if (!validate(config)) {
    throw new HandlerConfigError(`${ref.handler} config: ${describeErrors(validate.errors).join('; ')}`);
  }
  return config as T;
}

/** Handlers without settings refuse a config rather than silently ignoring a misplaced one. */
function noConfig(ref: HandlerRef): void {
  if (ref.config !== undefined && !(isObject(ref.config) && Object.keys(ref.config).length === 0)) {
    throw new HandlerConfigError(`${ref.handler} takes no config`);
  }
}

function unsupported(kind: string, ref: HandlerRef): never {
  throw new HandlerConfigError(`${kind} '${ref.handler}' is not supported by this gateway`);
}

const session = (subject: string, forwardCredentials: boolean): AuthenticationSession => ({
  subject,
  extra: {},
  header: {},
  forwardCredentials,
});

/** https://www.ory.sh/docs/oathkeeper/pipeline/authn */
export function buildAuthenticator(ref: HandlerRef, context: HandlerContext): Authenticator {
  switch (ref.handler) {
    case 'oauth2_introspection': {
      const config = validated<IntrospectionConfig>(
        ref,
        'configAuthenticatorsOauth2Introspection',
        context.defaults.oauth2_introspection,
      );
      if (config.pre_authorization?.enabled) {
        throw new HandlerConfigError(
          'oauth2_introspection config: pre_authorization is not supported by this gateway',
        );
      }
      return introspectionAuthenticator(context.introspection, config);
    }
    case 'anonymous': {
      const { subject } = validated<{ subject: string }>(
        ref,
        'configAuthenticatorsAnonymous',
        context.defaults.anonymous,
      );
      // Anonymous only applies to requests without credentials; a bearer token goes to the next one.
      return {
        authenticate: async (request) =>
          request.headers.authorization ? NOT_RESPONSIBLE : session(subject, false),
      };
    }
    case 'noop':
      noConfig(ref);
      // noop lets the request through untouched, credentials included: the upstream judges them.
      return { authenticate: async () => session('', true) };
    case 'unauthorized':
      noConfig(ref);
      return {
        authenticate: async () => {
          throw unauthorized('rule refuses every request');
        },
      };
    default:
      return unsupported('authenticator', ref);
  }
}

/** https://www.ory.sh/docs/oathkeeper/pipeline/authz */
export function buildAuthorizer(ref: HandlerRef): Authorizer {
  noConfig(ref);
  switch (ref.handler) {
    case 'allow':
      return { authorize: async () => undefined };
    case 'deny':
      return {
        authorize: async () => {
          throw forbidden('rule denies every request');
        },
      };
    default:
      return unsupported('authorizer', ref);
  }
}

function templateData(session: AuthenticationSession, request: PipelineRequest): TemplateData {
  return {
    Subject: session.subject,
    Extra: session.extra,
    Header: { ...request.headers },
    MatchContext: { RegexpCaptureGroups: request.captures, URL: request.url.toString() },
  };
}

function compile(source: string, where: string): Template {
  try {
    return compileTemplate(source);
  } catch (err) {
    throw new HandlerConfigError(`${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function headerMutator(ref: HandlerRef): Mutator {
  const { headers } = validated<{ headers: Record<string, string> }>(ref, 'configMutatorsHeader');
  const templates = Object.entries(headers).map(([name, source]) => {
    if (!HEADER_NAME.test(name)) throw new HandlerConfigError(`header: '${name}' is not a valid header name`);
    return { name: name.toLowerCase(), template: compile(source, `header ${name}`) };
  });
  return {
    async mutate(session, request) {
      const data = templateData(session, request);
      for (const { name, template } of templates) {
        const value = template.render(data);
        // A subject or claim with a line break must not become a header injection.
        if (!HEADER_VALUE.test(value)) throw internal(`header ${name} rendered an invalid value`);
        session.header[name] = value;
      }
    },
  };
}

function idTokenMutator(ref: HandlerRef, context: HandlerContext): Mutator {
  const defaults = context.defaults.id_token;
  const config = validated<{ issuer_url: string; jwks_url: string; ttl?: string; claims?: string }>(
    ref,
    'configMutatorsIdToken',
    defaults,
  );
  if (config.jwks_url !== defaults.jwks_url) {
    throw new HandlerConfigError(
      'id_token config: jwks_url is the gateway-wide signing key set and cannot change per rule',
    );
  }
  const ttlMs = parseDuration(config.ttl ?? defaults.ttl);
  const claims = config.claims === undefined ? undefined : compile(config.claims, 'id_token claims');
  return {
    async mutate(session, request) {
      let extra: Record<string, unknown> = {};
      if (claims) {
        const rendered = claims.render(templateData(session, request));
        try {
          const parsed: unknown = JSON.parse(rendered);
          if (!isObject(parsed)) throw new Error('not a JSON object');
          extra = parsed;
        } catch (err) {
          throw internal(`id_token claims template did not render a JSON object: ${String(err)}`);
        }
      }
      const token = await context.keys.sign(extra, session.subject, config.issuer_url, ttlMs);
      session.header.authorization = `Bearer ${token}`;
    },
  };
}

/** https://www.ory.sh/docs/oathkeeper/pipeline/mutator */
export function buildMutator(ref: HandlerRef, context: HandlerContext): Mutator {
  switch (ref.handler) {
    case 'noop':
      noConfig(ref);
      return { mutate: async () => undefined };
    case 'header':
      return headerMutator(ref);
    case 'id_token':
      return idTokenMutator(ref, context);
    default:
      return unsupported('mutator', ref);
  }
}

/** Only the json error handler exists here; Oathkeeper's default fallback is json as well. */
export function checkErrorHandler(ref: HandlerRef): void {
  if (ref.handler !== 'json') unsupported('error handler', ref);
  validated(ref, 'configErrorsJSON');
}
