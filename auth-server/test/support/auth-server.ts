import { serviceTestEnv, type TestDatabase } from '@spincycle/common/testing';
import { API_SCOPES, start, type RunningAuthServer } from '@spincycle/auth-server';

export const APP_REDIRECT_URI = 'app.spincycle.mobile:/oauth2/callback';

/** auth-server on random ports; the login, consent and logout pages are wherever the test says. */
export function startAuthServer(
  db: TestDatabase,
  extra: Record<string, string> = {},
): Promise<RunningAuthServer> {
  return start(serviceTestEnv(db, { PUBLIC_PORT: '0', ADMIN_PORT: '0', ...extra }));
}

/** Registers the mobile app the way deployment does: public client, PKCE, refresh tokens. */
export async function registerMobileApp(adminUrl: string, clientId = 'spincycle-mobile'): Promise<Response> {
  return fetch(`${adminUrl}/admin/clients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_id: clientId,
      client_name: 'Spincycle',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [APP_REDIRECT_URI],
      post_logout_redirect_uris: [APP_REDIRECT_URI],
      scope: ['openid', 'offline_access', 'email', ...API_SCOPES].join(' '),
      skip_consent: true,
    }),
  });
}

export function authorizeUrl(publicUrl: string, params: Record<string, string | undefined>): string {
  const url = new URL('/oauth2/auth', publicUrl);
  const defaults = {
    client_id: 'spincycle-mobile',
    response_type: 'code',
    redirect_uri: APP_REDIRECT_URI,
    scope: 'openid offline_access',
    state: 'state-1234567890',
  };
  for (const [key, value] of Object.entries({ ...defaults, ...params })) {
    if (value !== undefined) url.searchParams.set(key, value);
  }
  return url.toString();
}

export async function tokenRequest(publicUrl: string, fields: Record<string, string>): Promise<Response> {
  return fetch(`${publicUrl}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: 'spincycle-mobile', ...fields }).toString(),
  });
}

export async function introspect(
  adminUrl: string,
  token: string,
  scope?: string,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${adminUrl}/admin/oauth2/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(scope ? { token, scope } : { token }).toString(),
  });
  if (response.status !== 200) throw new Error(`introspection answered ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}

/** Exchanges an authorization code of the mobile app; answers the token endpoint's response. */
export function exchangeCode(publicUrl: string, code: string, verifier: string): Promise<Response> {
  return tokenRequest(publicUrl, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: APP_REDIRECT_URI,
    code_verifier: verifier,
  });
}
