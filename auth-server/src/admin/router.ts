import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import { sendJson, type Logger, type RouteHandler } from '@spincycle/common';
import { type ClientRegistry, createClientSchema } from './clients.js';
import {
  acceptConsentSchema,
  acceptLoginSchema,
  AlreadyHandled,
  rejectSchema,
  type FlowService,
} from './flows.js';
import { AdminError, formBody, jsonBody, queryParam, sendAdminError } from './http.js';
import { introspect, introspectSchema } from './introspection.js';

type Handler = (req: IncomingMessage, url: URL) => Promise<{ status: number; body?: unknown }>;

interface Route {
  method: string;
  path: string;
  handle: Handler;
}

const ok = (body: unknown) => ({ status: 200, body });
const noContent = { status: 204 };

/** Hydra's admin API, the subset the login/consent provider and the app's registration use. */
export function adminRoutes(
  provider: Provider,
  issuer: string,
  flows: FlowService,
  clients: ClientRegistry,
): Route[] {
  const login = '/admin/oauth2/auth/requests/login';
  const consent = '/admin/oauth2/auth/requests/consent';
  const logout = '/admin/oauth2/auth/requests/logout';
  return [
    {
      method: 'POST',
      path: '/admin/oauth2/introspect',
      handle: async (req) => ok(await introspect(provider, issuer, await formBody(req, introspectSchema))),
    },
    {
      method: 'GET',
      path: login,
      handle: async (_req, url) => ok(await flows.getLoginRequest(queryParam(url, 'login_challenge'))),
    },
    {
      method: 'PUT',
      path: `${login}/accept`,
      handle: async (req, url) =>
        ok(
          await flows.acceptLogin(queryParam(url, 'login_challenge'), await jsonBody(req, acceptLoginSchema)),
        ),
    },
    {
      method: 'PUT',
      path: `${login}/reject`,
      handle: async (req, url) =>
        ok(await flows.rejectLogin(queryParam(url, 'login_challenge'), await jsonBody(req, rejectSchema))),
    },
    {
      method: 'GET',
      path: consent,
      handle: async (_req, url) => ok(await flows.getConsentRequest(queryParam(url, 'consent_challenge'))),
    },
    {
      method: 'PUT',
      path: `${consent}/accept`,
      handle: async (req, url) =>
        ok(
          await flows.acceptConsent(
            queryParam(url, 'consent_challenge'),
            await jsonBody(req, acceptConsentSchema),
          ),
        ),
    },
    {
      method: 'PUT',
      path: `${consent}/reject`,
      handle: async (req, url) =>
        ok(
          await flows.rejectConsent(queryParam(url, 'consent_challenge'), await jsonBody(req, rejectSchema)),
        ),
    },
    {
      method: 'GET',
      path: logout,
      handle: async (_req, url) => ok(await flows.getLogoutRequest(queryParam(url, 'logout_challenge'))),
    },
    {
      method: 'PUT',
      path: `${logout}/accept`,
      handle: async (_req, url) => ok(await flows.acceptLogout(queryParam(url, 'logout_challenge'))),
    },
    {
      method: 'PUT',
      path: `${logout}/reject`,
      handle: async (_req, url) => {
        await flows.rejectLogout(queryParam(url, 'logout_challenge'));
        return noContent;
      },
    },
    {
      method: 'DELETE',
      path: '/admin/oauth2/auth/sessions/consent',
      handle: async (_req, url) => {
        const subject = queryParam(url, 'subject');
        const client = url.searchParams.get('client');
        // As in Hydra, ending every grant of the subject takes an explicit all=true: a forgotten
        // client parameter must not sign the user out of every app.
        if (!client && url.searchParams.get('all') !== 'true') {
          throw AdminError.badRequest('one of the query parameters client and all=true is required');
        }
        await flows.revokeConsentSessions(subject, client || undefined);
        return noContent;
      },
    },
    {
      method: 'DELETE',
      path: '/admin/oauth2/auth/sessions/login',
      handle: async (_req, url) => {
        await flows.revokeLoginSessions(queryParam(url, 'subject'));
        return noContent;
      },
    },
    {
      method: 'POST',
      path: '/admin/clients',
      handle: async (req) => ({
        status: 201,
        body: await clients.create(await jsonBody(req, createClientSchema)),
      }),
    },
    {
      method: 'GET',
      path: '/admin/clients/{id}',
      handle: async (_req, url) => ok(await clients.get(clientIdOf(url))),
    },
    {
      method: 'PUT',
      path: '/admin/clients/{id}',
      handle: async (req, url) =>
        ok(await clients.replace(clientIdOf(url), await jsonBody(req, createClientSchema))),
    },
  ];
}

const clientIdOf = (url: URL) => decodeURIComponent(url.pathname.slice('/admin/clients/'.length));

function matches(route: Route, path: string): boolean {
  if (route.path.endsWith('/{id}')) {
    const prefix = route.path.slice(0, -'{id}'.length);
    return path.startsWith(prefix) && path.length > prefix.length && !path.slice(prefix.length).includes('/');
  }
  return route.path === path;
}

export function adminHandler(routes: Route[], logger: Logger): RouteHandler {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const candidates = routes.filter((r) => matches(r, url.pathname));
    const route = candidates.find((r) => r.method === req.method);
    if (!route) {
      const err =
        candidates.length > 0
          ? new AdminError(405, 'Method Not Allowed', `${url.pathname} does not accept ${req.method ?? ''}`)
          : AdminError.notFound('route');
      sendAdminError(res, err);
      return 'unmatched';
    }
    try {
      const { status, body } = await route.handle(req, url);
      if (body === undefined) {
        res.writeHead(status).end();
      } else {
        sendJson(res, status, body, { 'cache-control': 'no-store' });
      }
    } catch (err) {
      if (err instanceof AlreadyHandled) {
        sendJson(res, 410, { redirect_to: err.redirectTo });
      } else if (err instanceof AdminError) {
        if (err.statusCode >= 500) logger.error({ err }, 'admin request failed');
        sendAdminError(res, err);
      } else {
        throw err;
      }
    }
    return route.path;
  };
}
