import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@spincycle/common/testing';
import type { RunningAuthServer } from '@spincycle/auth-server';
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

/** Starts an authorization and returns the login challenge the login page would receive. */
async function toLoginPage(browser: Browser, publicUrl: string, codeChallenge: string): Promise<string> {
  const toLogin = await browser.follow(
    authorizeUrl(publicUrl, { code_challenge: codeChallenge, code_challenge_method: 'S256' }),
    PAGES.LOGIN_URL,
  );
  return challengeIn(toLogin.stoppedAt, 'login_challenge');
}

/** Runs the browser part of the flow up to the code, accepting login and consent as `subject`. */
async function authorize(browser: Browser, publicUrl: string, challenge: string, subject = 'user-1') {
  const loginChallenge = await toLoginPage(browser, publicUrl, challenge);
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
    requested_scope: ['openid', 'offline_access'],
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

  const toConsent = await browser.follow(accepted.json.redirect_to, PAGES.CONSENT_URL);
  const consentChallenge = challengeIn(toConsent.stoppedAt, 'consent_challenge');
  const consentRequest = await admin(
    'GET',
    `/admin/oauth2/auth/requests/consent?consent_challenge=${consentChallenge}`,
  );
  expect(contractProblems('oAuth2ConsentRequest', consentRequest.json)).toEqual([]);
  expect(consentRequest.json).toMatchObject({
    subject,
    context: { via: 'password' },
    client: { skip_consent: true },
  });
  const consented = await admin(
    'PUT',
    `/admin/oauth2/auth/requests/consent/accept?consent_challenge=${consentChallenge}`,
    {
      grant_scope: consentRequest.json.requested_scope,
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
    const code = await authorize(new Browser(), publicUrl, pkce.challenge, 'user-revoking');
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
