import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { RouteHandler } from '@spincycle/common';
import { PUBLIC_ROUTES } from './provider.js';

const KNOWN_PATHS = new Set<string>([
  ...Object.values(PUBLIC_ROUTES),
  '/.well-known/openid-configuration',
  `${PUBLIC_ROUTES.end_session}/confirm`,
  `${PUBLIC_ROUTES.end_session}/success`,
]);
const RESUME_PATH = new RegExp(`^${PUBLIC_ROUTES.authorization}/[\\w-]+$`);

/** The route pattern of a public request, for metrics and the access log (never the uid itself). */
export function publicRouteOf(path: string): string {
  if (KNOWN_PATHS.has(path)) return path;
  if (RESUME_PATH.test(path)) return `${PUBLIC_ROUTES.authorization}/:uid`;
  return 'unmatched';
}

/**
 * Hydra issues a refresh token for `offline_access` without `prompt=consent` and always asks the
 * consent provider, which skips the screen for first-party apps. OpenID Connect Core §11, which
 * oidc-provider follows, drops `offline_access` unless consent is prompted; adding the prompt
 * gives Hydra's behaviour, and the consent provider still decides.
 */
export function withHydraOfflineAccess(rawUrl: string): string {
  const url = new URL(rawUrl, 'http://public.invalid');
  if (url.pathname !== PUBLIC_ROUTES.authorization) return rawUrl;
  const scopes = (url.searchParams.get('scope') ?? '').split(' ');
  const prompts = (url.searchParams.get('prompt') ?? '').split(' ').filter((p) => p.length > 0);
  if (!scopes.includes('offline_access') || prompts.includes('consent') || prompts.includes('none')) {
    return rawUrl;
  }
  url.searchParams.set('prompt', [...prompts, 'consent'].join(' '));
  return `${url.pathname}${url.search}`;
}

export function publicHandler(provider: Provider): RouteHandler {
  const callback = provider.callback();
  return async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && req.url) req.url = withHydraOfflineAccess(req.url);
    await callback(req, res);
    return publicRouteOf(path);
  };
}
