import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APP_REDIRECT_URI,
  authorizeUrl,
  exchangeCode,
  introspect,
  tokenRequest,
} from '../../auth-server/test/support/auth-server.js';
import { Browser, pkcePair } from '../../auth-server/test/support/browser.js';
import {
  asCaller,
  formFields,
  loginForTokens,
  openLoginPage,
  signUp,
  startStack,
  subjectOf,
  submitLogin,
  type Stack,
} from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

const EMAIL = 'Ann.Owner@Example.com';
const PASSWORD = 'correct horse battery';

async function exchange(code: string, verifier: string): Promise<Record<string, string>> {
  const response = await exchangeCode(stack.auth.publicUrl, code, verifier);
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, string>;
}

function codeFrom(location: string | undefined): string {
  const url = new URL(location ?? 'about:blank');
  const code = url.searchParams.get('code');
  if (!code) throw new Error(`no code in ${url.toString()}: ${url.searchParams.get('error_description')}`);
  return code;
}

describe('sign-up, login, tokens and logout through auth-server and user-service', () => {
  it('runs the whole flow of the mobile app', async () => {
    // Sign up on the sign-up page.
    const signUpBrowser = new Browser();
    const signUpPage = await signUpBrowser.request(`${stack.users.url}/signup`);
    expect(signUpPage.status).toBe(200);
    const created = await signUpBrowser.submit(`${stack.users.url}/signup`, {
      ...formFields(await signUpPage.text()),
      email: EMAIL,
      password: PASSWORD,
    });
    expect(created.status).toBe(201);

    // Log in through the login page, from the app's authorization request to its redirect URI.
    const { browser, pkce, page } = await openLoginPage(stack);
    const loggedIn = await submitLogin(stack, page, browser, 'ann.owner@example.COM', PASSWORD);
    expect(loggedIn.status).toBe(303);
    const toApp = await browser.follow(
      new URL(loggedIn.headers.get('location') ?? '').toString(),
      APP_REDIRECT_URI,
    );
    const tokens = await exchange(codeFrom(toApp.stoppedAt), pkce.verifier);

    // The access token is opaque, introspects active and carries the roles.
    const active = await introspect(stack.auth.url, String(tokens.access_token));
    expect(active).toMatchObject({
      active: true,
      token_use: 'access_token',
      client_id: 'spincycle-mobile',
      ext: { roles: ['homeowner'] },
    });
    // Behind the access proxy, the account API learns the caller from the proxy's id_token.
    const me = await fetch(`${stack.users.url}/me`, {
      headers: await asCaller(stack.identity, String(active.sub)),
    });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({
      id: active.sub,
      email: 'ann.owner@example.com',
      roles: ['homeowner'],
    });

    // Refresh rotates; presenting the old refresh token again is refused and revokes the family.
    const refreshed = await tokenRequest(stack.auth.publicUrl, {
      grant_type: 'refresh_token',
      refresh_token: String(tokens.refresh_token),
    });
    expect(refreshed.status).toBe(200);
    const rotated = (await refreshed.json()) as Record<string, string>;
    expect(await introspect(stack.auth.url, String(rotated.access_token))).toMatchObject({
      active: true,
      sub: active.sub,
    });
    const reused = await tokenRequest(stack.auth.publicUrl, {
      grant_type: 'refresh_token',
      refresh_token: String(tokens.refresh_token),
    });
    expect(reused.status).toBe(400);
    expect(await introspect(stack.auth.url, String(rotated.access_token))).toEqual({ active: false });
    expect(await introspect(stack.auth.url, String(rotated.refresh_token))).toEqual({ active: false });

    // A new authorization in the same browser needs no password (the session holds), and gets
    // fresh tokens.
    const again = pkcePair();
    const silent = await browser.follow(
      authorizeUrl(stack.auth.publicUrl, { code_challenge: again.challenge, code_challenge_method: 'S256' }),
      APP_REDIRECT_URI,
    );
    const fresh = await exchange(codeFrom(silent.stoppedAt), again.verifier);

    // Logout: the OAuth2 server sends the browser to the logout page, the user confirms, the
    // refresh token is revoked and the browser is sent back to the app.
    const logoutUrl = new URL('/oauth2/sessions/logout', stack.auth.publicUrl);
    logoutUrl.searchParams.set('id_token_hint', String(fresh.id_token));
    logoutUrl.searchParams.set('post_logout_redirect_uri', APP_REDIRECT_URI);
    logoutUrl.searchParams.set('state', 'logged-out');
    const logoutPage = await browser.follow(logoutUrl.toString());
    expect(logoutPage.url).toContain(`${stack.users.url}/logout?logout_challenge=`);
    const confirmed = await browser.submit(`${stack.users.url}/logout`, {
      ...formFields(await logoutPage.response.text()),
      decision: 'logout',
    });
    expect(confirmed.status).toBe(303);
    expect(confirmed.headers.get('location')).toBe(`${APP_REDIRECT_URI}?state=logged-out`);
    expect(await introspect(stack.auth.url, String(fresh.refresh_token))).toEqual({ active: false });
    const afterLogout = await tokenRequest(stack.auth.publicUrl, {
      grant_type: 'refresh_token',
      refresh_token: String(fresh.refresh_token),
    });
    expect(afterLogout.status).toBe(400);
    // And the next authorization asks for the password again.
    await openLoginPage(stack, browser);
  });

  it('ends a demoted admin’s tokens at once, and the next sign-in carries the roles now held', async () => {
    const asked = 'openid offline_access admin.users';
    for (const email of ['chief@example.com', 'deputy@example.com']) {
      expect((await signUp(stack, email, PASSWORD)).status).toBe(201);
    }
    await stack.grantRoles([
      ['chief@example.com', 'admin'],
      ['deputy@example.com', 'admin'],
    ]);
    const chief = await subjectOf(
      stack,
      (await loginForTokens(stack, 'chief@example.com', PASSWORD)).access_token,
    );
    const tokens = await loginForTokens(stack, 'deputy@example.com', PASSWORD, asked);
    expect(tokens.scope).toBe(asked);
    const deputy = await subjectOf(stack, tokens.access_token);
    expect(await introspect(stack.auth.url, String(tokens.access_token))).toMatchObject({
      ext: { roles: expect.arrayContaining(['admin']) },
    });

    const demoted = await fetch(`${stack.users.url}/users/${deputy}/roles`, {
      method: 'PUT',
      headers: {
        ...(await asCaller(stack.identity, chief, ['admin.users'])),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ roles: ['homeowner'] }),
    });
    expect(demoted.status).toBe(200);

    expect(await introspect(stack.auth.url, String(tokens.access_token))).toEqual({ active: false });
    expect(await introspect(stack.auth.url, String(tokens.refresh_token))).toEqual({ active: false });
    const refreshed = await tokenRequest(stack.auth.publicUrl, {
      grant_type: 'refresh_token',
      refresh_token: String(tokens.refresh_token),
    });
    expect(refreshed.status).toBe(400);
    expect(await refreshed.json()).toMatchObject({ error: 'invalid_grant' });
    const again = await loginForTokens(stack, 'deputy@example.com', PASSWORD, asked);
    expect(again.scope).toBe('openid offline_access');
    expect(await introspect(stack.auth.url, String(again.access_token))).toMatchObject({
      active: true,
      ext: { roles: ['homeowner'] },
    });
  });
});
