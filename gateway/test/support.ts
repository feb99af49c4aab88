import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { HandlerContext } from '../src/pipeline/handlers.js';
import { compilePattern } from '../src/rules/pattern.js';
import type { AccessRule } from '../src/rules/rules.js';
import { IntrospectionClient } from '../src/pipeline/introspection.js';
import { SigningKeys } from '../src/pipeline/signing-keys.js';

export const REPO_ROOT = new URL('../../', import.meta.url);

export function readJson(relative: string, base: URL = REPO_ROOT): unknown {
  return JSON.parse(readFileSync(new URL(relative, base), 'utf8'));
}

export const ISSUER = 'http://gateway.test/';
export const JWKS_URL = 'http://gateway.test/.well-known/jwks.json';

/** Handler context as the gateway builds it, with an introspection URL a test chooses. */
export async function handlerContext(
  introspectionUrl = 'http://127.0.0.1:9/admin/oauth2/introspect',
  client = new IntrospectionClient(),
): Promise<HandlerContext> {
  return {
    defaults: {
      oauth2_introspection: { introspection_url: introspectionUrl },
      id_token: { issuer_url: ISSUER, jwks_url: JWKS_URL, ttl: '1m' },
      anonymous: { subject: 'anonymous' },
    },
    introspection: client,
    keys: await SigningKeys.generate(),
  };
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP/1.1 exchange with full control of the headers (fetch refuses Host, Connection and other
 * headers the tests must send to prove the gateway ignores them).
 */
export function call(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer | Buffer[] } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const parts =
      options.body === undefined ? [] : Array.isArray(options.body) ? options.body : [options.body];
    for (const part of parts) req.write(part);
    req.end();
  });
}

export async function writeRules(path: string, rules: AccessRule[]): Promise<string> {
  await writeFile(path, JSON.stringify(rules));
  return path;
}

/** A rule reduced to what matching needs, with a regexp pattern. */
export const matchableRule = (id: string, url: string, methods: string[]) => ({
  rule: { id },
  pattern: compilePattern(url, 'regexp'),
  methods: new Set(methods),
});
