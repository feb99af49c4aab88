import { randomUUID } from 'node:crypto';
import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { sendJson, type Logger, type RouteHandler } from '@spincycle/common';
import { corsDecision, type CorsPolicy } from '../edge/cors.js';
import { clientView } from '../edge/forwarded.js';
import type { RateLimiter } from '../edge/rate-limit.js';
import { cleanPath, findRule } from '../rules/match.js';
import type { CompiledRule } from '../rules/rules.js';
import {
  NOT_RESPONSIBLE,
  PipelineError,
  unauthorized,
  type AuthenticationSession,
  type PipelineRequest,
} from '../pipeline/types.js';
import { forward, tooLarge, upstreamHeaders, upstreamUrl } from './forward.js';

export interface AccessProxyOptions {
  /** The rule set; read on every request, so a reload replaces it in place. */
  rules: () => readonly CompiledRule[];
  logger: Logger;
  trustForwardedHeaders: boolean;
  maxBodyBytes: number;
  upstreamTimeoutMs: number;
  cors?: CorsPolicy;
  rateLimiter?: RateLimiter;
  /** Strict-Transport-Security value, set on every answer when the listener speaks TLS. */
  hsts?: string;
}

export interface AccessProxy {
  handle: RouteHandler;
  close(): void;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;
// Encoded separators and NUL would let a path mean one thing to the matcher and another upstream.
const AMBIGUOUS_ENCODING = /%(?:2f|5c|00)/i;

const badRequest = (message: string) => new PipelineError(400, message, message);

/** The request path, decoded and cleaned the way the rules see it, or a 400. */
function requestPath(rawUrl: string): { path: string; search: string } {
  if (!rawUrl.startsWith('/')) throw badRequest('Request target must be a path');
  const queryAt = rawUrl.indexOf('?');
  const rawPath = queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt);
  if (AMBIGUOUS_ENCODING.test(rawPath)) throw badRequest('Request path contains an encoded separator');
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    throw badRequest('Request path is not valid percent-encoding');
  }
  return { path: cleanPath(decoded), search: queryAt < 0 ? '' : rawUrl.slice(queryAt) };
}

/** Runs the rule's pipeline: the first responsible authenticator, the authorizer, every mutator. */
async function runPipeline(rule: CompiledRule, request: PipelineRequest): Promise<AuthenticationSession> {
  let session: AuthenticationSession | undefined;
  for (const authenticator of rule.authenticators) {
    const result = await authenticator.authenticate(request);
    if (result !== NOT_RESPONSIBLE) {
      session = result;
      break;
    }
  }
  if (!session) throw unauthorized('no authenticator was responsible for the request');
  await rule.authorizer.authorize(session, request);
  for (const mutator of rule.mutators) await mutator.mutate(session, request);
  return session;
}

/** Oathkeeper's proxy: match one rule, run its pipeline, forward to its upstream. */
export function createAccessProxy(options: AccessProxyOptions): AccessProxy {
  const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  const { logger } = options;

  const refuse = (res: ServerResponse, error: PipelineError) => {
    sendJson(res, error.status, error.body(), { 'x-content-type-options': 'nosniff', ...error.headers });
  };

  const serve = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<string> => {
    const client = clientView(req, options.trustForwardedHeaders);
    if (!client) throw badRequest('Missing or invalid Host header');
    const allowance = options.rateLimiter?.take(client.ip);
    if (allowance && !allowance.allowed) {
      throw new PipelineError(429, 'Too many requests', `rate limit for ${client.ip}`, {
        'retry-after': String(allowance.retryAfterSeconds),
      });
    }
    const method = req.method ?? 'GET';
    if (options.cors) {
      const cors = corsDecision(options.cors, method, req.headers);
      if (cors.kind === 'preflight') {
        res.writeHead(204, cors.headers);
        res.end();
        return 'cors-preflight';
      }
      if (cors.kind === 'actual')
        for (const [name, value] of Object.entries(cors.headers)) res.setHeader(name, value);
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > options.maxBodyBytes) throw tooLarge(options.maxBodyBytes);

    const { path, search } = requestPath(req.url ?? '/');
    // Matched as Oathkeeper does, against the decoded path; the URL object is for templates.
    const matchUrl = `${client.scheme}://${client.host}${path}`;
    const matched = findRule(options.rules(), method, matchUrl);
    const rule = matched.rule;
    const request: PipelineRequest = {
      method,
      url: new URL(matchUrl),
      query: new URLSearchParams(search),
      headers: req.headers,
      captures: matched.captures,
    };
    const session = await runPipeline(rule, request);
    const target = upstreamUrl(rule.upstream, rule.rule.upstream.strip_path, path, search);
    await forward(req, res, {
      target,
      headers: upstreamHeaders(req.headers, {
        forwardCredentials: session.forwardCredentials,
        host: rule.rule.upstream.preserve_host ? client.host : target.host,
        mutated: session.header,
        forwardedFor: client.forwardedFor,
        forwardedProto: client.scheme,
        forwardedHost: client.host,
        requestId,
      }),
      maxBodyBytes: options.maxBodyBytes,
      timeoutMs: options.upstreamTimeoutMs,
      agents,
      refuse: (error) => {
        logger.warn({ reqId: requestId, rule: rule.rule.id, reason: error.reason }, 'upstream failed');
        refuse(res, error);
      },
    });
    return rule.rule.id;
  };

  return {
    async handle(req, res) {
      const given = req.headers['x-request-id'];
      const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      res.setHeader('x-request-id', requestId);
      if (options.hsts) res.setHeader('strict-transport-security', options.hsts);
      try {
        return await serve(req, res, requestId);
      } catch (err) {
        if (!(err instanceof PipelineError)) throw err;
        logger[err.status >= 500 ? 'warn' : 'info'](
          { reqId: requestId, status: err.status, reason: err.reason },
          'request refused',
        );
        if (res.headersSent) res.destroy();
        else refuse(res, err);
        return err.status === 404 ? 'unmatched' : 'refused';
      }
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
