import type { IncomingHttpHeaders } from 'node:http';

/**
 * CORS on the public listener: closed unless origins are listed. Listed origins get credentialed
 * CORS for the API's methods and the headers an app sends (Authorization, Content-Type).
 */
export interface CorsPolicy {
  allowedOrigins: ReadonlySet<string>;
}

const METHODS = 'GET, POST, PUT, PATCH, DELETE';
const HEADERS = 'authorization, content-type, x-request-id';
const MAX_AGE_SECONDS = '600';

export function parseAllowedOrigins(list: string | undefined): CorsPolicy {
  const origins = (list ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of origins) {
    const url = new URL(origin);
    if (url.origin !== origin) throw new Error(`CORS origin '${origin}' must be scheme://host[:port] only`);
  }
  return { allowedOrigins: new Set(origins) };
}

export type CorsDecision =
  | { kind: 'none' }
  | { kind: 'preflight'; headers: Record<string, string> }
  | { kind: 'actual'; headers: Record<string, string> };

export function corsDecision(policy: CorsPolicy, method: string, headers: IncomingHttpHeaders): CorsDecision {
  const origin = headers.origin;
  if (!origin || !policy.allowedOrigins.has(origin)) return { kind: 'none' };
  const common = {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    vary: 'Origin',
  };
  if (method === 'OPTIONS' && headers['access-control-request-method']) {
    return {
      kind: 'preflight',
      headers: {
        ...common,
        'access-control-allow-methods': METHODS,
        'access-control-allow-headers': HEADERS,
        'access-control-max-age': MAX_AGE_SECONDS,
      },
    };
  }
  return { kind: 'actual', headers: { ...common, 'access-control-expose-headers': 'x-request-id' } };
}
