import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, laterPort, serviceTestEnv } from '@spincycle/common/testing';
import { start as startUserService } from '@spincycle/user-service';
import { APP_REDIRECT_URI, authorizeUrl } from '../../auth-server/test/support/auth-server.js';
import { Browser, pkcePair } from '../../auth-server/test/support/browser.js';
import {
  asCaller,
  attemptLogin,
  formFields,
  LEAKED_PASSWORD,
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
  stack = await startStack({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_MAX_FAILURES_PER_IP: '12' });
});
afterAll(async () => {
  await stack?.close();
});

const PASSWORD = 'a long enough secret';

function errorText(page: string): string | undefined {
  return /<p class="error" role="alert">([^<]*)<\/p>/.exec(page)?.[1];
}

describe('sign-up', () => {
  it('signs up from the login page and continues the app’s authorization as the new user', async () => {
    const { browser, page } = await openLoginPage(stack);
    const link = /href="(\/signup\?login_challenge=[^"]+)"/.exec(page)?.[1];
    if (!link) throw new Error('the login page links to no sign-up page');
    const form = await browser.request(`${stack.users.url}${link.replace(/&amp;/g, '&')}`);
    const created = await browser.submit(`${stack.users.url}/signup`, {
      ...formFields(await form.text()),
      email: 'newcomer@example.com',
      password: PASSWORD,
    });
    expect(created.status).toBe(303);
    const toApp = await browser.follow(created.headers.get('location') ?? '', APP_REDIRECT_URI);
    expect(new URL(toApp.stoppedAt ?? 'about:blank').searchParams.get('code')).toBeTruthy();
  });

  it('refuses a leaked password with a clear message, sending only its SHA-1 to hibp-service', async () => {
    const before = await stack.hibp.checks();
    const response = await signUp(stack, 'leaky@example.com', LEAKED_PASSWORD);
    expect(response.status).toBe(422);
    expect(errorText(await response.text())).toMatch(/appeared in a data breach/);
    // The real hibp-service answered "pwned", and it answers only a body of exactly
    // {"sha1": "<40 hex digits>"}: any other field (a password) gets a 400, which fails sign-up.
    expect((await stack.hibp.checks()).pwned).toBe(before.pwned + 1);
    // Nothing was created: the address is still free.
    expect((await signUp(stack, 'leaky@example.com', PASSWORD)).status).toBe(201);
  });

  it('refuses a password shorter than 10 characters', async () => {
    const response = await signUp(stack, 'short@example.com', 'too short');
    expect(response.status).toBe(422);
    expect(errorText(await response.text())).toMatch(/at least 10 characters/);
  });

  it('treats addresses differing only in case and spaces as one account', async () => {
    expect((await signUp(stack, 'Casey@Example.com', PASSWORD)).status).toBe(201);
    const again = await signUp(stack, '  CASEY@example.COM ', PASSWORD);
    expect(again.status).toBe(422);
    expect(errorText(await again.text())).toMatch(/exists/);
  });

  it('fails closed with a retry message and an alert metric when hibp-service is unreachable', async () => {
    const db = await createTestDatabase('users-nohibp');
    const service = await startUserService(
      serviceTestEnv(db, {
        PORT: '0',
        HIBP_URL: `http://127.0.0.1:${await laterPort()}`,
        BCRYPT_COST: '10',
        COOKIE_SECURE: 'false',
      }),
    );
    try {
      const browser = new Browser();
      const form = await browser.request(`${service.url}/signup`);
      const response = await browser.submit(`${service.url}/signup`, {
        ...formFields(await form.text()),
        email: 'offline@example.com',
        password: PASSWORD,
      });
      expect(response.status).toBe(503);
      expect(errorText(await response.text())).toMatch(/try again in a few minutes/);
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      expect(metrics).toMatch(/^user_leak_check_unavailable_total\{[^}]*\} 1$/m);
    } finally {
      await service.close();
      await db.drop();
    }
  });
});

describe('login page', () => {
  it('gives the same answer for an unknown address and a wrong password, and counts both', async () => {
    expect((await signUp(stack, 'known@example.com', PASSWORD)).status).toBe(201);
    const wrongPassword = await attemptLogin(stack, 'known@example.com', 'not the password');
    const unknownUser = await attemptLogin(stack, 'nobody@example.com', 'not the password');
    expect(wrongPassword.status).toBe(401);
    expect(unknownUser.status).toBe(wrongPassword.status);
    const [a, b] = [await wrongPassword.text(), await unknownUser.text()];
    expect(errorText(a)).toBe('The e-mail address or password is not correct.');
    expect(errorText(b)).toBe(errorText(a));
    const metrics = await (await fetch(`${stack.users.url}/metrics`)).text();
    expect(metrics).toMatch(/^user_login_failures_total\{[^}]*reason="bad_credentials"[^}]*\} 2$/m);
  });

  it('refuses a form without a CSRF token, or with a token of another browser', async () => {
    const { browser, page } = await openLoginPage(stack);
    const fields = formFields(page);
    const { _csrf: _dropped, ...withoutToken } = fields;
    const missing = await browser.submit(`${stack.users.url}/login`, {
      ...withoutToken,
      email: 'known@example.com',
      password: PASSWORD,
    });
    expect(missing.status).toBe(403);
    const other = await openLoginPage(stack);
    const foreign = await browser.submit(`${stack.users.url}/login`, {
      ...fields,
      _csrf: formFields(other.page)._csrf ?? '',
      email: 'known@example.com',
      password: PASSWORD,
    });
    expect(foreign.status).toBe(403);
    const signUpWithoutToken = await new Browser().submit(`${stack.users.url}/signup`, {
      email: 'csrf@example.com',
      password: PASSWORD,
    });
    expect(signUpWithoutToken.status).toBe(403);
  });

  it('sends pages with a CSP that forbids scripts and framing', async () => {
    const response = await new Browser().request(`${stack.users.url}/signup`);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('renders <script> in every field inert', async () => {
    const attack = '"><script>alert(1)</script>';
    const login = await openLoginPage(stack);
    const echoed = await (
      await submitLogin(stack, login.page, login.browser, `${attack}@example.com`, attack)
    ).text();
    const signUpPage = await (
      await new Browser().request(`${stack.users.url}/signup?login_challenge=${encodeURIComponent(attack)}`)
    ).text();
    const signUpEcho = await (await signUp(stack, `${attack}@example.com`, PASSWORD)).text();
    const badChallenge = await (
      await new Browser().request(`${stack.users.url}/login?login_challenge=${encodeURIComponent(attack)}`)
    ).text();
    for (const page of [echoed, signUpPage, signUpEcho, badChallenge]) {
      expect(page).not.toContain('<script>');
      expect(page).not.toContain('"><script');
    }
    expect(echoed).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@example.com');
    expect(signUpPage).toContain('value="&quot;&gt;&lt;script&gt;');
  });
});

describe('consent page', () => {
  it('asks about a third-party client, escaping its name, and reports a denial to the app', async () => {
    const registered = await fetch(`${stack.auth.url}/admin/clients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: 'third-party',
        client_name: '<script>alert("x")</script> Laundry Co',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        redirect_uris: [APP_REDIRECT_URI],
        scope: 'openid email',
      }),
    });
    expect(registered.status).toBe(201);
    const browser = new Browser();
    const browserPkce = pkcePair();
    const flow = await browser.follow(
      authorizeUrl(stack.auth.publicUrl, {
        client_id: 'third-party',
        scope: 'openid email',
        code_challenge: browserPkce.challenge,
        code_challenge_method: 'S256',
      }),
    );
    const loggedIn = await submitLogin(
      stack,
      await flow.response.text(),
      browser,
      'known@example.com',
      PASSWORD,
    );
    expect(loggedIn.status).toBe(303);
    const consent = await browser.follow(loggedIn.headers.get('location') ?? '');
    expect(consent.url).toContain(`${stack.users.url}/consent?consent_challenge=`);
    const consentPage = await consent.response.text();
    expect(consentPage).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Laundry Co');
    expect(consentPage).toContain('<li>email</li>');
    const denied = await browser.submit(`${stack.users.url}/consent`, {
      ...formFields(consentPage),
      decision: 'deny',
    });
    expect(denied.status).toBe(303);
    const back = await browser.follow(denied.headers.get('location') ?? '', APP_REDIRECT_URI);
    expect(new URL(back.stoppedAt ?? 'about:blank').searchParams.get('error')).toBe('access_denied');
  });
});

describe('account', () => {
  it('changes the password after re-checking the current one and the leak list', async () => {
    expect((await signUp(stack, 'changer@example.com', PASSWORD)).status).toBe(201);
    const browser = new Browser();
    const fields = formFields(await (await browser.request(`${stack.users.url}/password`)).text());
    const change = (current: string, next: string) =>
      browser.submit(`${stack.users.url}/password`, {
        ...fields,
        email: 'changer@example.com',
        current_password: current,
        new_password: next,
      });
    expect((await change('not the password', 'another long secret')).status).toBe(401);
    const leaked = await change(PASSWORD, LEAKED_PASSWORD);
    expect(leaked.status).toBe(422);
    expect(errorText(await leaked.text())).toMatch(/data breach/);
    expect((await change(PASSWORD, 'another long secret')).status).toBe(200);
    const tokens = await loginForTokens(stack, 'changer@example.com', 'another long secret');
    expect(tokens.access_token).toBeTruthy();
  });

  it('deletes the account with its grants and tokens', async () => {
    expect((await signUp(stack, 'leaver@example.com', PASSWORD)).status).toBe(201);
    const tokens = await loginForTokens(stack, 'leaver@example.com', PASSWORD);
    const auth = await asCaller(stack.identity, await subjectOf(stack, tokens.access_token));
    expect((await fetch(`${stack.users.url}/me`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${stack.users.url}/me`, { method: 'DELETE', headers: auth })).status).toBe(204);
    // The access proxy stops at the revoked access token; an id_token minted before is of nobody.
    await expect(subjectOf(stack, tokens.access_token)).rejects.toThrow('not active');
    expect((await fetch(`${stack.users.url}/me`, { headers: auth })).status).toBe(404);
    expect((await attemptLogin(stack, 'leaver@example.com', PASSWORD)).status).toBe(401);
  });

  it('answers the account API with 401 unless the access proxy names the caller', async () => {
    expect((await signUp(stack, 'direct@example.com', PASSWORD)).status).toBe(201);
    const tokens = await loginForTokens(stack, 'direct@example.com', PASSWORD);
    const subject = await subjectOf(stack, tokens.access_token);
    const me = (authorization?: string) =>
      fetch(`${stack.users.url}/me`, { headers: authorization ? { authorization } : {} });
    expect((await me()).status).toBe(401);
    expect((await me('Bearer not-a-token')).status).toBe(401);
    // The app's own access token is for the access proxy, which swaps it for its id_token.
    expect((await me(`Bearer ${tokens.access_token}`)).status).toBe(401);
    const forDevices = await stack.identity.token(subject, { scopes: ['openid'] });
    expect((await me(`Bearer ${forDevices}`)).status).toBe(401);
    const forged = await stack.identity.token(subject, { audience: 'user-service', foreignKey: true });
    expect((await me(`Bearer ${forged}`)).status).toBe(401);
    expect((await me((await asCaller(stack.identity, subject, ['device.read'])).authorization)).status).toBe(
      403,
    );
    expect((await me((await asCaller(stack.identity, subject)).authorization)).status).toBe(200);
  });
});

// Runs last: the per-address lock holds for every later login from this test's address.
describe('brute-force protection', () => {
  it('locks an account after repeated failures, even for the right password, then the address', async () => {
    expect((await signUp(stack, 'target@example.com', PASSWORD)).status).toBe(201);
    for (let i = 0; i < 3; i++) {
      expect((await attemptLogin(stack, 'target@example.com', `guess number ${i}`)).status).toBe(401);
    }
    const locked = await attemptLogin(stack, 'target@example.com', PASSWORD);
    expect(locked.status).toBe(429);
    expect(errorText(await locked.text())).toMatch(/Too many failed attempts\. Try again in 1 minute\./);

    // Guessing across many addresses from one client locks the client.
    let status = 0;
    for (let i = 0; i < 12 && status !== 429; i++) {
      status = (await attemptLogin(stack, `spray${i}@example.com`, 'spray password')).status;
    }
    expect(status).toBe(429);
    expect((await attemptLogin(stack, 'known@example.com', PASSWORD)).status).toBe(429);
    const metrics = await (await fetch(`${stack.users.url}/metrics`)).text();
    expect(metrics).toMatch(/^user_login_failures_total\{[^}]*reason="locked"[^}]*\} [1-9]/m);
  });
});
