import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerTokenMatches, sendJson, type RouteHandler } from '@spincycle/common';
import { z } from 'zod';

/**
 * The broker's admin API, on its internal listener: cert-service (or an operator) calls it when a
 * certificate is revoked, ownership changes or a grant ends, so that live sessions lose access at
 * once instead of at their next reconnect.
 *   POST /admin/v1/disconnect      {"client_ids": [...], "usernames": [...]}  → {"disconnected": n}
 *   POST /admin/v1/trust/refresh   re-reads the device CA and CRL now          → {"disconnected": n}
 *   POST /admin/v1/cache/clear     {"client_ids": [...], "usernames": [...]}  → {"dropped": n}
 *                                  (both empty: every cached webhook answer)
 * Every call needs `Authorization: Bearer <ADMIN_TOKEN>`; without a configured token the API is off.
 */
export interface SessionSelector {
  clientIds: string[];
  usernames: string[];
}

export interface AdminActions {
  disconnect(selector: SessionSelector): number;
  refreshTrust(): Promise<number>;
  clearCache(selector: SessionSelector): number;
}

const ROUTES = ['/admin/v1/disconnect', '/admin/v1/trust/refresh', '/admin/v1/cache/clear'] as const;
type AdminRoute = (typeof ROUTES)[number];

const selectorBody = z
  .object({
    client_ids: z.array(z.string().min(1).max(256)).max(10_000).default([]),
    usernames: z.array(z.string().min(1).max(256)).max(10_000).default([]),
  })
  .strict();

const MAX_BODY = 1024 * 1024;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new RangeError('body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text.length === 0 ? {} : (JSON.parse(text) as unknown);
}

export function adminHandler(token: string | undefined, actions: AdminActions): RouteHandler {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = ROUTES.find((r): r is AdminRoute => r === path);
    if (!route || !token) {
      sendJson(res, 404, { statusCode: 404, message: 'not found' });
      return 'unmatched';
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, { statusCode: 405, message: `${route} accepts POST only` }, { allow: 'POST' });
      return route;
    }
    if (!bearerTokenMatches(req.headers.authorization, token)) {
      sendJson(res, 401, { statusCode: 401, message: 'a valid admin bearer token is required' });
      return route;
    }
    if (route === '/admin/v1/trust/refresh') {
      sendJson(res, 200, { disconnected: await actions.refreshTrust() });
      return route;
    }
    let body: unknown;
    try {
      body = await readJson(req);
    } catch (err) {
      const tooLarge = err instanceof RangeError;
      sendJson(res, tooLarge ? 413 : 400, {
        statusCode: tooLarge ? 413 : 400,
        message: tooLarge ? 'body too large' : 'body is not valid JSON',
      });
      return route;
    }
    const parsed = selectorBody.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      sendJson(res, 400, {
        statusCode: 400,
        message: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`,
      });
      return route;
    }
    const selector = { clientIds: parsed.data.client_ids, usernames: parsed.data.usernames };
    if (route === '/admin/v1/cache/clear') sendJson(res, 200, { dropped: actions.clearCache(selector) });
    else sendJson(res, 200, { disconnected: actions.disconnect(selector) });
    return route;
  };
}
