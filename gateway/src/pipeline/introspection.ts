import type { IncomingHttpHeaders } from 'node:http';
import { parseDuration } from './duration.js';
import { missingScopes, type ScopeStrategy } from './scope.js';
import { TokenCache } from './token-cache.js';
import {
  forbidden,
  internal,
  NOT_RESPONSIBLE,
  PipelineError,
  unauthorized,
  type Authenticator,
  type PipelineRequest,
} from './types.js';

/**
 * `configAuthenticatorsOauth2Introspection` of Oathkeeper's config schema, after validation.
 * `retry.give_up_after` bounds the introspection call (no retries: a slow authorization server
 * should fail a request fast, not hold it); `pre_authorization` is refused at load.
 */
export interface IntrospectionConfig {
  introspection_url: string;
  scope_strategy?: ScopeStrategy | 'none';
  required_scope?: string[];
  target_audience?: string[];
  trusted_issuers?: string[];
  prefix?: string;
  preserve_host?: boolean;
  introspection_request_headers?: Record<string, string>;
  token_from?: { header?: string; query_parameter?: string; cookie?: string } | null;
  pre_authorization?: { enabled?: boolean };
  retry?: { give_up_after?: string; max_delay?: string };
  cache?: { enabled?: boolean; ttl?: string; max_cost?: number };
}

/** RFC 7662 response, as Hydra's `introspectedOAuth2Token` shapes it. */
export interface Introspection {
  active: boolean;
  sub?: string;
  scope?: string;
  client_id?: string;
  username?: string;
  aud?: string[];
  iss?: string;
  exp?: number;
  token_use?: string;
  ext?: Record<string, unknown>;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const optional = <T>(v: unknown, is: (x: unknown) => x is T): T | undefined => (is(v) ? v : undefined);
const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

/** Reads the introspection body; anything that is not the documented shape is an error, not a pass. */
export function parseIntrospection(body: unknown): Introspection {
  if (!isRecord(body) || typeof body.active !== 'boolean') {
    throw new Error('introspection response has no boolean "active"');
  }
  return {
    active: body.active,
    sub: optional(body.sub, isString),
    scope: optional(body.scope, isString),
    client_id: optional(body.client_id, isString),
    username: optional(body.username, isString),
    aud: optional(body.aud, isStrings),
    iss: optional(body.iss, isString),
    exp: optional(body.exp, isNumber),
    token_use: optional(body.token_use, isString),
    ext: optional(body.ext, isRecord),
  };
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const pair of (header ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === name) return decodeURIComponent(pair.slice(at + 1).trim());
  }
  return undefined;
}

function bearer(value: string | undefined): string | undefined {
  const found = /^Bearer\s+(\S+)\s*$/i.exec(value ?? '');
  return found?.[1];
}

/** Where Oathkeeper's `token_from` says the token is; the Authorization bearer token by default. */
export function tokenFrom(
  request: { headers: IncomingHttpHeaders; query: URLSearchParams },
  from: IntrospectionConfig['token_from'],
): string | undefined {
  const header = (name: string) => {
    const value = request.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  };
  if (from?.query_parameter) return request.query.get(from.query_parameter) ?? undefined;
  if (from?.cookie) return cookieValue(header('cookie'), from.cookie);
  if (from?.header && from.header.toLowerCase() !== 'authorization') return header(from.header) || undefined;
  return bearer(header('authorization'));
}

/**
 * A revoked token (logout, account deletion, refresh-token reuse) stays usable while its active
 * answer is cached, so an answer is reused for this long at most, however long the token lives.
 */
export const DEFAULT_CACHE_MAX_TTL_MS = 30_000;

export interface IntrospectionClientOptions {
  /** Upper bound of cached tokens, whatever a rule's `max_cost` says. */
  maxEntries?: number;
  /** Longest an active answer is reused, whatever a rule's `cache.ttl` says; 0 turns caching off. */
  maxCacheTtlMs?: number;
  now?: () => number;
}

/** Calls the introspection endpoint and caches active answers; shared by every rule. */
export class IntrospectionClient {
  private readonly cache: TokenCache<Introspection>;
  private readonly now: () => number;
  private readonly maxCacheTtlMs: number;

  constructor(options: IntrospectionClientOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxCacheTtlMs = options.maxCacheTtlMs ?? DEFAULT_CACHE_MAX_TTL_MS;
    this.cache = new TokenCache(options.maxEntries ?? 100_000, this.now);
  }

  async introspect(
    token: string,
    config: IntrospectionConfig,
    host: string | undefined,
  ): Promise<Introspection> {
    // With scope_strategy none, Hydra checks the scope and its answer depends on it.
    const scope = (config.scope_strategy ?? 'none') === 'none' ? (config.required_scope ?? []).join(' ') : '';
    const caching = config.cache?.enabled !== false && this.maxCacheTtlMs > 0;
    const key = TokenCache.key(config.introspection_url, scope, token);
    const cached = caching ? this.cache.get(key) : undefined;
    if (cached) return cached;

    const form = new URLSearchParams({ token });
    if (scope) form.set('scope', scope);
    const headers: Record<string, string> = {
      ...config.introspection_request_headers,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (config.preserve_host && host) headers['x-forwarded-host'] = host;
    let response: Response;
    try {
      response = await fetch(config.introspection_url, {
        method: 'POST',
        headers,
        body: form,
        redirect: 'error',
        signal: AbortSignal.timeout(parseDuration(config.retry?.give_up_after ?? '1s')),
      });
    } catch (err) {
      throw internal(
        `introspection endpoint unreachable: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (response.status === 429) {
      await response.body?.cancel();
      throw new PipelineError(429, 'Too many requests', 'introspection endpoint answered 429');
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw internal(`introspection endpoint answered ${response.status}, expected 200`);
    }
    let introspection: Introspection;
    try {
      introspection = parseIntrospection(await response.json());
    } catch (err) {
      throw internal(
        `introspection response unreadable: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (caching && introspection.active) {
      const ttl = Math.min(
        config.cache?.ttl ? parseDuration(config.cache.ttl) : Infinity,
        this.maxCacheTtlMs,
      );
      const expiresAt = Math.min(
        introspection.exp !== undefined ? introspection.exp * 1000 : 0,
        this.now() + ttl,
      );
      this.cache.set(key, introspection, expiresAt);
    }
    return introspection;
  }

  /** Whether a token's answer is cached (for tests and metrics). */
  cachedEntries(): number {
    return this.cache.size;
  }

  get clock(): () => number {
    return this.now;
  }
}

/**
 * Oathkeeper's checks on an introspection answer: inactive or expired → 401; not an access token,
 * an audience, issuer or scope mismatch → 403.
 * https://www.ory.sh/docs/oathkeeper/pipeline/authn#oauth2_introspection
 */
export function checkIntrospection(
  introspection: Introspection,
  config: IntrospectionConfig,
  nowMs: number,
): void {
  if (!introspection.active) throw unauthorized('token is not active');
  if (introspection.exp !== undefined && introspection.exp * 1000 <= nowMs)
    throw unauthorized('token expired');
  if (introspection.token_use !== undefined && introspection.token_use !== 'access_token') {
    throw forbidden(`token_use is ${introspection.token_use}, not access_token`);
  }
  const audiences = introspection.aud ?? [];
  const missingAudience = (config.target_audience ?? []).filter((aud) => !audiences.includes(aud));
  if (missingAudience.length > 0) throw forbidden(`token audience lacks ${missingAudience.join(', ')}`);
  if (config.trusted_issuers?.length && !config.trusted_issuers.includes(introspection.iss ?? '')) {
    throw forbidden('token issuer is not trusted');
  }
  const strategy = config.scope_strategy ?? 'none';
  if (strategy !== 'none') {
    const granted = (introspection.scope ?? '').split(' ').filter(Boolean);
    const missing = missingScopes(strategy, granted, config.required_scope ?? []);
    if (missing.length > 0) throw forbidden(`token lacks scope ${missing.join(', ')}`);
  }
}

export function introspectionAuthenticator(
  client: IntrospectionClient,
  config: IntrospectionConfig,
): Authenticator {
  return {
    async authenticate(request: PipelineRequest) {
      const token = tokenFrom(request, config.token_from);
      if (!token || (config.prefix && !token.startsWith(config.prefix))) return NOT_RESPONSIBLE;
      const introspection = await client.introspect(token, config, request.url.host);
      checkIntrospection(introspection, config, client.clock());
      return {
        subject: introspection.sub ?? '',
        extra: {
          ...introspection.ext,
          username: introspection.username,
          client_id: introspection.client_id,
          scope: introspection.scope,
          aud: introspection.aud,
        },
        header: {},
        forwardCredentials: false,
      };
    },
  };
}
