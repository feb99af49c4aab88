import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@spincycle/common/testing';
import { API_SCOPES, SUPPORTED_SCOPES, type RunningAuthServer } from '@spincycle/auth-server';
import {
  APP_REDIRECT_URI,
  authorizeUrl,
  exchangeCode,
  introspect,
  registerMobileApp,
  startAuthServer,
  tokenRequest,
} from './support/auth-server.js';
import { Browser, pkcePair } from './support/browser.js';
import { contractProblems } from './support/hydra-contract.js';

// The login provider's pages are never loaded here: the test plays the login provider through
// the admin API, reading the challenge from the redirect.
const PAGES = {
  LOGIN_URL: 'http://login.invalid/login',
  CONSENT_URL: 'http://login.invalid/consent',
  LOGOUT_URL: 'http://login.invalid/logout',
  POST_LOGOUT_REDIRECT_URL: 'http://login.invalid/logout/done',
};

// One server for the file: starting one costs seconds, and each test uses its own flow.
let db: TestDatabase;
let server: RunningAuthServer;
beforeAll(async () => {
  db = await createTestDatabase('auth-flow');
  server = await startAuthServer(db, PAGES);
  const registered = await registerMobileApp(server.url);
  expect(registered.status).toBe(201);
  expect(contractProblems('oAuth2Client', await registered.json())).toEqual([]);
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

/** The running server (the restart test replaces it). */
function current(): RunningAuthServer {
  return server;
}

// Answers are read loosely here: each test asserts the fields it is about.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

function challengeIn(location: string | undefined, name: string): string {
  if (!location) throw new Error(`no redirect carrying ${name}`);
  const value = new URL(location).searchParams.get(name);
  if (!value) throw new Error(`${location} carries no ${name}`);
  return value;
}

const DEFAULT_SCOPE = 'openid offline_access';

/** Starts an authorization and returns the login challenge the login page would receive. */
async function toLoginPage(
  browser: Browser,
  publicUrl: string,
  codeChallenge: string,
  scope = DEFAULT_SCOPE,
): Promise<string> {
  const toLogin = await browser.follow(
    authorizeUrl(publicUrl, { code_challenge: codeChallenge, code_challenge_method: 'S256', scope }),
    PAGES.LOGIN_URL,
  );
  return challengeIn(toLogin.stoppedAt, 'login_challenge');
}

interface AuthorizeOptions {
  subject?: string;
  scope?: string;
  /** The consent provider's `grant_scope` for the requested scopes; all of them by default. */
  grant?: (requested: string[]) => string[];
}

/** Runs the browser part of the flow up to the code, accepting login and consent as `subject`. */
async function authorize(
  browser: Browser,
  publicUrl: string,
  challenge: string,
  options: AuthorizeOptions = {},
) {
  const { subject = 'user-1', scope = DEFAULT_SCOPE } = options;
  const loginChallenge = await toLoginPage(browser, publicUrl, challenge, scope);
  const loginRequest = await admin(
    'GET',
    `/admin/oauth2/auth/requests/login?login_challenge=${loginChallenge}`,
  );
  expect(loginRequest.status).toBe(200);
  expect(contractProblems('oAuth2LoginRequest', loginRequest.json)).toEqual([]);
  expect(loginRequest.json).toMatchObject({
    challenge: loginChallenge,
    skip: false,
    client: { client_id: 'spincycle-mobile', skip_consent: true },
    requested_scope: scope.split(' '),
  });
  const accepted = await admin(
    'PUT',
    `/admin/oauth2/auth/requests/login/accept?login_challenge=${loginChallenge}`,
    {
      subject,
      context: { via: 'password' },
    },
  );
  expect(accepted.status).toBe(200);
  expect(contractProblems('oAuth2RedirectTo', accepted.json)).toEqual([]);
  // A decided request answers 410 with where the browser must go, as Hydra does.
  const again = await admin('GET', `/admin/oauth2/auth/requests/login?login_challenge=${loginChallenge}`);
  expect(again).toMatchObject({ status: 410, json: { redirect_to: accepted.json.redirect_to } });
  // The login's context reaches the consent request, as in Hydra.
  return consent(browser, accepted.json.redirect_to, { ...options, subject }, { via: 'password' });
}

/**
 * Follows `url` to the consent provider, decides as `options.grant` says, and returns the code.
 * `context` is what the consent request must carry from the login (none without a login).
 */
async function consent(browser: Browser, url: string, options: AuthorizeOptions, context: unknown = null) {
  const { subject = 'user-1', grant = (requested) => requested } = options;
  const toConsent = await browser.follow(url, PAGES.CONSENT_URL);
  const consentChallenge = challengeIn(toConsent.stoppedAt, 'consent_challenge');
  const consentRequest = await admin(
    'GET',
    `/admin/oauth2/auth/requests/consent?consent_challenge=${consentChallenge}`,
  );
  expect(contractProblems('oAuth2ConsentRequest', consentRequest.json)).toEqual([]);
  expect(consentRequest.json).toMatchObject({ subject, context, client: { skip_consent: true } });
  const consented = await admin(
    'PUT',
    `/admin/oauth2/auth/requests/consent/accept?consent_challenge=${consentChallenge}`,
    {
      grant_scope: grant(consentRequest.json.requested_scope),
      grant_access_token_audience: ['spincycle-api'],
      session: { access_token: { roles: ['homeowner'] }, id_token: { roles: ['homeowner'] } },
    },
  );
  expect(consented.status).toBe(200);
  const toApp = await browser.follow(consented.json.redirect_to, APP_REDIRECT_URI);
  const callback = new URL(toApp.stoppedAt ?? 'about:blank');
  expect(callback.searchParams.get('state')).toBe('state-1234567890');
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code in ${callback.toString()}`);
  return code;
}

describe('auth-server authorization code flow', () => {
  it('issues opaque tokens through login and consent, rotates refresh tokens and revokes the family on reuse', async () => {
    const { publicUrl, url: adminUrl } = current();
    const browser = new Browser();
    const pkce = pkcePair();
    const code = await authorize(browser, publicUrl, pkce.challenge);

    const exchanged = await exchangeCode(publicUrl, code, pkce.verifier);
    expect(exchanged.status).toBe(200);
    const tokens = (await exchanged.json()) as Record<string, string | number>;
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'openid offline_access' });
    const accessToken = String(tokens.access_token);
    const firstRefresh = String(tokens.refresh_token);
    // Opaque: not a JWT.
    expect(accessToken.split('.')).toHaveLength(1);

    const active = await introspect(adminUrl, accessToken);
    expect(active).toMatchObject({
      active: true,
      sub: 'user-1',
      client_id: 'spincycle-mobile',
      token_type: 'Bearer',
      token_use: 'access_token',
      aud: ['spincycle-api'],
      iss: publicUrl,
      ext: { roles: ['homeowner'] },
      scope: 'openid offline_access',
    });
    expect(contractProblems('introspectedOAuth2Token', active)).toEqual([]);
    expect(Number(active.exp) - Number(active.iat)).toBe(900);
    expect(await introspect(adminUrl, accessToken, 'openid devices.admin')).toEqual({ active: false });

    const idToken = JSON.parse(
      Buffer.from(String(tokens.id_token).split('.')[1] ?? '', 'base64url').toString(),
    );
    expect(idToken).toMatchObject({
      sub: 'user-1',
      aud: 'spincycle-mobile',
      iss: publicUrl,
      roles: ['homeowner'],
    });
    const userinfo = await fetch(`${publicUrl}/userinfo`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(await userinfo.json()).toMatchObject({ sub: 'user-1' });

    const refreshed = await tokenRequest(publicUrl, {
      grant_type: 'refresh_token',
      refresh_token: firstRefresh,
    });
    expect(refreshed.status).toBe(200);
    const second = (await refreshed.json()) as Record<string, string>;
    expect(second.refresh_token).not.toBe(firstRefresh);
    expect(await introspect(adminUrl, String(second.access_token))).toMatchObject({
      active: true,
      ext: { roles: ['homeowner'] },
    });

    const reused = await tokenRequest(publicUrl, {
      grant_type: 'refresh_token',
      refresh_token: firstRefresh,
    });
    expect(reused.status).toBe(400);
    expect(await reused.json()).toMatchObject({ error: 'invalid_grant' });
    // Reuse signals theft: every token of the grant is dead, the newest refresh token included.
    expect(await introspect(adminUrl, String(second.access_token))).toEqual({ active: false });
    expect(await introspect(adminUrl, accessToken)).toEqual({ active: false });
    const afterTheft = await tokenRequest(publicUrl, {
      grant_type: 'refresh_token',
      refresh_token: String(second.refresh_token),
    });
    expect(afterTheft.status).toBe(400);
  });

  it('lets the app revoke its refresh token, which ends the whole grant', async () => {
    const { publicUrl, url: adminUrl } = current();
    const pkce = pkcePair();
    const code = await authorize(new Browser(), publicUrl, pkce.challenge, { subject: 'user-revoking' });
    const tokens = (await (await exchangeCode(publicUrl, code, pkce.verifier)).json()) as Record<
      string,
      string
    >;
    const revoked = await fetch(`${publicUrl}/oauth2/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: String(tokens.refresh_token),
        client_id: 'spincycle-mobile',
      }).toString(),
    });
    expect(revoked.status).toBe(200);
    expect(await introspect(adminUrl, String(tokens.refresh_token))).toEqual({ active: false });
    expect(await introspect(adminUrl, String(tokens.access_token))).toEqual({ active: false });
  });

  it('revokes a subject’s grants with their tokens, at one client or with all=true, as Hydra does', async () => {
    const { publicUrl, url: adminUrl } = current();
    const tokensOf = async (subject: string) => {
      const pkce = pkcePair();
      const code = await authorize(new Browser(), publicUrl, pkce.challenge, { subject });
      return (await (await exchangeCode(publicUrl, code, pkce.verifier)).json()) as Record<string, string>;
    };
    const oneClient = await tokensOf('user-leaving-one-app');
    const everywhere = [await tokensOf('user-signed-out'), await tokensOf('user-signed-out')];
    const bystander = await tokensOf('user-staying');
    const revoke = (query: string) => admin('DELETE', `/admin/oauth2/auth/sessions/consent?${query}`);
    const dead = async (tokens: Record<string, string>) => {
      expect(await introspect(adminUrl, String(tokens.access_token))).toEqual({ active: false });
      expect(await introspect(adminUrl, String(tokens.refresh_token))).toEqual({ active: false });
      const refreshed = await tokenRequest(publicUrl, {
        grant_type: 'refresh_token',
        refresh_token: String(tokens.refresh_token),
      });
      expect(await refreshed.json()).toMatchObject({ error: 'invalid_grant' });
    };

    for (const query of ['subject=user-signed-out', 'subject=user-signed-out&all=false', 'all=true']) {
      const refused = await revoke(query);
      expect(refused).toMatchObject({ status: 400, json: { error: 'invalid_request' } });
      expect(contractProblems('errorOAuth2', refused.json)).toEqual([]);
    }
    expect((await revoke('subject=user-leaving-one-app&client=another-app')).status).toBe(204);
    expect(await introspect(adminUrl, String(oneClient.access_token))).toMatchObject({ active: true });
    expect((await revoke('subject=user-leaving-one-app&client=spincycle-mobile')).status).toBe(204);
    await dead(oneClient);
    expect((await revoke('subject=user-signed-out&all=true')).status).toBe(204);
    for (const tokens of everywhere) await dead(tokens);
    expect(await introspect(adminUrl, String(bystander.access_token))).toMatchObject({
      active: true,
      sub: 'user-staying',
    });
  });

  it('keeps clients, tokens and signing keys across a restart', async () => {
    const { publicUrl, url: adminUrl } = current();
    const pkce = pkcePair();
    const code = await authorize(new Browser(), publicUrl, pkce.challenge);
    const tokens = (await (await exchangeCode(publicUrl, code, pkce.verifier)).json()) as Record<
      string,
      string
    >;
    const jwksBefore = await (await fetch(`${publicUrl}/.well-known/jwks.json`)).json();
    expect(await introspect(adminUrl, String(tokens.access_token))).toMatchObject({ active: true });

    await server.close();
    server = await startAuthServer(db, PAGES);
    expect(await introspect(server.url, String(tokens.access_token))).toMatchObject({
      active: true,
      sub: 'user-1',
    });
    expect(await (await fetch(`${server.publicUrl}/.well-known/jwks.json`)).json()).toEqual(jwksBefore);
    const client = await admin('GET', '/admin/clients/spincycle-mobile');
    expect(client.json).toMatchObject({ client_id: 'spincycle-mobile', token_endpoint_auth_method: 'none' });
    expect(contractProblems('oAuth2Client', client.json)).toEqual([]);
    const refreshed = await tokenRequest(server.publicUrl, {
      grant_type: 'refresh_token',
      refresh_token: String(tokens.refresh_token),
    });
    expect(refreshed.status).toBe(200);
  });

  it.each([
    ['no code challenge', {}, 'PKCE'],
    ['the plain method', { code_challenge_method: 'plain' }, 'code_challenge_method'],
  ])('refuses an authorization request of a public client with %s', async (_label, extra, mentioned) => {
    const { publicUrl } = current();
    const { challenge } = pkcePair();
    const params = 'code_challenge_method' in extra ? { code_challenge: challenge, ...extra } : {};
    const result = await new Browser().follow(authorizeUrl(publicUrl, params), APP_REDIRECT_URI);
    const error = new URL(result.stoppedAt ?? 'about:blank').searchParams;
    expect(error.get('error')).toBe('invalid_request');
    expect(error.get('error_description')).toContain(mentioned);
  });

  it('refuses a redirect URI that is not registered exactly', async () => {
    const { publicUrl } = current();
    const { challenge } = pkcePair();
    const response = await new Browser().request(
      authorizeUrl(publicUrl, {
        code_challenge: challenge,
        code_challenge_method: 'S256',
        redirect_uri: `${APP_REDIRECT_URI}/extra`,
      }),
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_redirect_uri' });
  });

  it('refuses a code exchanged with the wrong verifier', async () => {
    const { publicUrl } = current();
    const pkce = pkcePair();
    const code = await authorize(new Browser(), publicUrl, pkce.challenge);
    const response = await exchangeCode(publicUrl, code, pkcePair().verifier);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('sends a rejected login back to the app with the error', async () => {
    const { publicUrl } = current();
    const browser = new Browser();
    const { challenge } = pkcePair();
    const loginChallenge = await toLoginPage(browser, publicUrl, challenge);
    const rejected = await admin(
      'PUT',
      `/admin/oauth2/auth/requests/login/reject?login_challenge=${loginChallenge}`,
      {
        error: 'access_denied',
        error_description: 'The user cancelled',
      },
    );
    const back = await browser.follow(rejected.json.redirect_to, APP_REDIRECT_URI);
    expect(new URL(back.stoppedAt ?? 'about:blank').searchParams.get('error')).toBe('access_denied');
  });

  it('ends the session and revokes the refresh token when the logout provider accepts', async () => {
    const { publicUrl, url: adminUrl } = current();
    const browser = new Browser();
    const pkce = pkcePair();
    const code = await authorize(browser, publicUrl, pkce.challenge);
    const tokens = (await (await exchangeCode(publicUrl, code, pkce.verifier)).json()) as Record<
      string,
      string
    >;

    const logoutUrl = new URL('/oauth2/sessions/logout', publicUrl);
    logoutUrl.searchParams.set('id_token_hint', String(tokens.id_token));
    logoutUrl.searchParams.set('post_logout_redirect_uri', APP_REDIRECT_URI);
    logoutUrl.searchParams.set('state', 'bye');
    const toLogout = await browser.follow(logoutUrl.toString(), PAGES.LOGOUT_URL);
    const logoutChallenge = challengeIn(toLogout.stoppedAt, 'logout_challenge');
    const request = await admin(
      'GET',
      `/admin/oauth2/auth/requests/logout?logout_challenge=${logoutChallenge}`,
    );
    expect(contractProblems('oAuth2LogoutRequest', request.json)).toEqual([]);
    expect(request.json).toMatchObject({
      subject: 'user-1',
      rp_initiated: true,
      client: { client_id: 'spincycle-mobile' },
    });
    const accepted = await admin(
      'PUT',
      `/admin/oauth2/auth/requests/logout/accept?logout_challenge=${logoutChallenge}`,
    );
    expect(accepted.json.redirect_to).toBe(`${APP_REDIRECT_URI}?state=bye`);

    expect(await introspect(adminUrl, String(tokens.refresh_token))).toEqual({ active: false });
    const refreshed = await tokenRequest(publicUrl, {
      grant_type: 'refresh_token',
      refresh_token: String(tokens.refresh_token),
    });
    expect(refreshed.status).toBe(400);
    // The browser session is gone too: a new authorization asks for login again.
    expect(await toLoginPage(browser, publicUrl, pkcePair().challenge)).toMatch(/^[\w-]+$/);
  });

  it('answers unknown challenges with 404 and bad bodies with 400 in Hydra error shape', async () => {
    const unknown = await admin('GET', '/admin/oauth2/auth/requests/login?login_challenge=nope');
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ error: 'Not Found', status_code: 404 });
    expect(contractProblems('errorOAuth2', unknown.json)).toEqual([]);
    const missing = await admin('GET', '/admin/oauth2/auth/requests/consent');
    expect(missing).toMatchObject({ status: 400, json: { error: 'invalid_request' } });
    const badClient = await admin('POST', '/admin/clients', { redirect_uris: 'not-a-list' });
    expect(badClient).toMatchObject({ status: 400, json: { error: 'invalid_request' } });
    const duplicate = await admin('POST', '/admin/clients', {
      client_id: 'spincycle-mobile',
      token_endpoint_auth_method: 'none',
      redirect_uris: [APP_REDIRECT_URI],
    });
    expect(duplicate.status).toBe(409);
  });

  it('serves Hydra’s discovery document paths', async () => {
    const { publicUrl } = current();
    const discovery = (await (await fetch(`${publicUrl}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(discovery).toMatchObject({
      issuer: publicUrl,
      authorization_endpoint: `${publicUrl}/oauth2/auth`,
      token_endpoint: `${publicUrl}/oauth2/token`,
      revocation_endpoint: `${publicUrl}/oauth2/revoke`,
      userinfo_endpoint: `${publicUrl}/userinfo`,
      jwks_uri: `${publicUrl}/.well-known/jwks.json`,
      end_session_endpoint: `${publicUrl}/oauth2/sessions/logout`,
      code_challenge_methods_supported: ['S256'],
    });
    expect(discovery).not.toHaveProperty('introspection_endpoint');
  });
});

describe('scopes of the Spincycle API', () => {
  const API = 'openid offline_access device.read events.read admin.provision';
  const withoutAdmin = (requested: string[]) => requested.filter((s) => !s.startsWith('admin.'));

  async function tokensFor(browser: Browser, options: AuthorizeOptions): Promise<Record<string, string>> {
    const pkce = pkcePair();
    const code = await authorize(browser, current().publicUrl, pkce.challenge, options);
    return (await (await exchangeCode(current().publicUrl, code, pkce.verifier)).json()) as Record<
      string,
      string
    >;
  }

  it('puts the granted API scopes in one access token next to openid, and leaves out the withheld', async () => {
    const { publicUrl, url: adminUrl } = current();
    const tokens = await tokensFor(new Browser(), { subject: 'user-api', scope: API, grant: withoutAdmin });
    expect(tokens.scope).toBe('openid offline_access device.read events.read');
    expect(await introspect(adminUrl, String(tokens.access_token), 'openid device.read')).toMatchObject({
      active: true,
      sub: 'user-api',
      scope: 'openid offline_access device.read events.read',
    });
    expect(await introspect(adminUrl, String(tokens.access_token), 'admin.provision')).toEqual({
      active: false,
    });
    // Like Hydra's, the same token also works at /userinfo.
    const userinfo = await fetch(`${publicUrl}/userinfo`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(await userinfo.json()).toMatchObject({ sub: 'user-api' });
    const refreshed = await tokenRequest(publicUrl, {
      grant_type: 'refresh_token',
      refresh_token: String(tokens.refresh_token),
    });
    expect(await refreshed.json()).toMatchObject({ scope: 'openid offline_access device.read events.read' });
  });

  it('issues no refresh token unless offline_access is both requested and granted', async () => {
    const notAsked = await tokensFor(new Browser(), { subject: 'user-online', scope: 'openid device.read' });
    const withheld = await tokensFor(new Browser(), {
      subject: 'user-online',
      scope: 'openid offline_access device.read',
      grant: (requested) => requested.filter((s) => s !== 'offline_access'),
    });
    for (const tokens of [notAsked, withheld]) {
      expect(tokens).toMatchObject({ token_type: 'Bearer', scope: 'openid device.read' });
      expect(tokens.access_token).toBeTruthy();
      expect(tokens).not.toHaveProperty('refresh_token');
    }
  });

  it('lets each consent decide again on a reused grant: what was withheld can be granted, and back', async () => {
    const { publicUrl, url: adminUrl } = current();
    const browser = new Browser();
    const first = await tokensFor(browser, { subject: 'user-promoted', scope: API, grant: withoutAdmin });
    expect(first.scope).not.toContain('admin.provision');
    // The browser session holds: the next authorizations go straight to consent.
    const again = async (grant: (requested: string[]) => string[]) => {
      const pkce = pkcePair();
      const url = authorizeUrl(publicUrl, {
        scope: API,
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
      });
      const code = await consent(browser, url, { subject: 'user-promoted', grant });
      return (await (await exchangeCode(publicUrl, code, pkce.verifier)).json()) as Record<string, string>;
    };
    const promoted = await again((requested) => requested);
    expect(promoted.scope).toBe(API);
    const demoted = await again(withoutAdmin);
    expect(demoted.scope).toBe('openid offline_access device.read events.read');
    expect(await introspect(adminUrl, String(demoted.access_token), 'admin.provision')).toEqual({
      active: false,
    });
  });

  it('refuses an authorization asking for a scope the client is not registered for, as Hydra does', async () => {
    const { publicUrl } = current();
    const registered = await admin('POST', '/admin/clients', {
      client_id: 'openid-only',
      token_endpoint_auth_method: 'none',
      redirect_uris: [APP_REDIRECT_URI],
      scope: 'openid',
    });
    expect(registered.status).toBe(201);
    const { challenge } = pkcePair();
    const result = await new Browser().follow(
      authorizeUrl(publicUrl, {
        client_id: 'openid-only',
        scope: 'openid device.read',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
      APP_REDIRECT_URI,
    );
    const error = new URL(result.stoppedAt ?? 'about:blank').searchParams;
    expect(error.get('error')).toBe('invalid_scope');
  });

  it('replaces a client with PUT /admin/clients/{id}, keeping its id, secret and creation time', async () => {
    const created = await admin('POST', '/admin/clients', {
      client_id: 'replaceable',
      redirect_uris: ['https://app.example/cb'],
      scope: 'openid',
    });
    expect(created.status).toBe(201);
    const replaced = await admin('PUT', '/admin/clients/replaceable', {
      client_id: 'ignored',
      redirect_uris: ['https://app.example/callback'],
      scope: 'openid device.read',
    });
    expect(replaced.status).toBe(200);
    expect(contractProblems('oAuth2Client', replaced.json)).toEqual([]);
    expect(replaced.json).toMatchObject({
      client_id: 'replaceable',
      redirect_uris: ['https://app.example/callback'],
      scope: 'openid device.read',
      created_at: created.json.created_at,
    });
    expect(replaced.json).not.toHaveProperty('client_secret');
    const basic = Buffer.from(`replaceable:${created.json.client_secret}`).toString('base64');
    const withOldSecret = await fetch(`${current().publicUrl}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: 'none',
        redirect_uri: 'x',
      }).toString(),
    });
    // The secret still authenticates the client: the code is what is wrong.
    expect(await withOldSecret.json()).toMatchObject({ error: 'invalid_grant' });
    expect((await admin('PUT', '/admin/clients/unknown', { scope: 'openid' })).status).toBe(404);
    expect((await admin('PUT', '/admin/clients/replaceable', { scope: 'openid wizardry' })).status).toBe(400);
  });

  it('supports every scope the access rules demand, and no API scope they do not', async () => {
    const demanded = new Set<string>();
    for (const file of ['oathkeeper-rules.json', 'oathkeeper-admin-rules.json']) {
      const rules = JSON.parse(await readFile(new URL(`../../${file}`, import.meta.url), 'utf8')) as {
        authenticators: { config?: { required_scope?: string[] } }[];
      }[];
      for (const rule of rules) {
        for (const authenticator of rule.authenticators) {
          for (const scope of authenticator.config?.required_scope ?? []) demanded.add(scope);
        }
      }
    }
    expect([...demanded].filter((s) => !SUPPORTED_SCOPES.includes(s))).toEqual([]);
    expect(API_SCOPES.filter((s) => !demanded.has(s))).toEqual([]);
  });
});
