import { API_SCOPES } from '@spincycle/auth-server';

/** Where the app receives the authorization code: its own URI scheme on a phone. */
export const APP_REDIRECT_URI = 'app.spincycle.mobile:/oauth2/callback';
/**
 * For development builds and tools on a computer (RFC 8252 §7.3): a native client's loopback
 * redirect URI matches on any port, so a tool can listen wherever it can.
 */
export const LOOPBACK_REDIRECT_URI = 'http://127.0.0.1/oauth2/callback';

/**
 * user-service's CSP form-action sources for these redirect URIs: browsers apply form-action to
 * the redirects after the login form is posted, and the last one goes to the app.
 */
export const APP_REDIRECT_SOURCES = `${new URL(APP_REDIRECT_URI).protocol} http://127.0.0.1:*`;

/**
 * The mobile app's OAuth2 client, in Hydra's `oAuth2Client` shape (auth-server's admin API takes
 * the same). Public, because an app on a phone cannot keep a secret, so PKCE is required; first
 * party, so consent is not asked (user-service still grants admin scopes to admins only).
 */
export const APP_CLIENT = {
  client_id: 'spincycle-app',
  client_name: 'Spincycle',
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: [APP_REDIRECT_URI, LOOPBACK_REDIRECT_URI],
  post_logout_redirect_uris: [APP_REDIRECT_URI, LOOPBACK_REDIRECT_URI],
  scope: ['openid', 'offline_access', ...API_SCOPES].join(' '),
  skip_consent: true,
};

type ClientFields = Record<string, unknown>;

const differs = (wanted: ClientFields, stored: ClientFields) =>
  Object.entries(wanted).some(([field, value]) => JSON.stringify(stored[field]) !== JSON.stringify(value));

/**
 * Registers APP_CLIENT at an OAuth2 admin API (auth-server, or Hydra: the calls are Hydra's
 * createOAuth2Client and setOAuth2Client). Safe to repeat: a client already as wanted is left
 * alone, one that differs (an older release's scopes) is replaced.
 */
export async function registerAppClient(adminUrl: string): Promise<'created' | 'updated' | 'unchanged'> {
  const clients = `${adminUrl.replace(/\/$/, '')}/admin/clients`;
  const send = (method: string, url: string) =>
    fetch(url, {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(APP_CLIENT),
      signal: AbortSignal.timeout(10_000),
    });
  const existing = await fetch(`${clients}/${APP_CLIENT.client_id}`, { signal: AbortSignal.timeout(10_000) });
  if (existing.status === 404) {
    await existing.body?.cancel();
    await expectStatus(await send('POST', clients), 201, 'creating');
    return 'created';
  }
  await expectStatus(existing, 200, 'reading');
  if (!differs(APP_CLIENT, (await existing.json()) as ClientFields)) return 'unchanged';
  await expectStatus(await send('PUT', `${clients}/${APP_CLIENT.client_id}`), 200, 'updating');
  return 'updated';
}

async function expectStatus(response: Response, status: number, doing: string): Promise<void> {
  if (response.status === status) return;
  const detail = await response.text().catch(() => '');
  throw new Error(
    `${doing} the OAuth2 client ${APP_CLIENT.client_id} answered ${response.status}: ${detail.slice(0, 200)}`,
  );
}
