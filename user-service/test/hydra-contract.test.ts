import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, serviceTestEnv, type TestDatabase } from '@spincycle/common/testing';
import type { RunningService } from '@spincycle/common';
import { start as startUserService } from '@spincycle/user-service';
import { Browser } from '../../auth-server/test/support/browser.js';
import { startHibp, type RunningHibp } from './support/hibp.js';
import { HydraStandIn } from './support/hydra-stand-in.js';
import { IdentityProvider } from '../../device-service/test/support/identity-provider.js';
import { grantRole } from '../src/grant-role.js';
import { asCaller, formFields, identityEnv } from './support/stack.js';

// user-service against Ory Hydra's admin API contract: the production path, where Hydra and not
// auth-server answers.
let hydra: HydraStandIn;
let hibp: RunningHibp;
let identity: IdentityProvider;
let db: TestDatabase;
let env: NodeJS.ProcessEnv;
let users: RunningService;
let userId: string;
const EMAIL = 'hydra.user@example.com';
const PASSWORD = 'production path secret';

beforeAll(async () => {
  hydra = await new HydraStandIn().start();
  hibp = await startHibp([]);
  identity = await IdentityProvider.start();
  db = await createTestDatabase('users-hydra');
  env = serviceTestEnv(db, {
    PORT: '0',
    HYDRA_ADMIN_URL: hydra.url,
    HIBP_URL: hibp.url,
    BCRYPT_COST: '10',
    COOKIE_SECURE: 'false',
    ...identityEnv(identity),
  });
  users = await startUserService(env);
  userId = await signUpAndLogIn(EMAIL);
});
afterAll(async () => {
  await users?.close();
  await db?.drop();
  await hibp?.close();
  await hydra?.close();
  await identity?.stop();
});

async function login(challenge: string, password = PASSWORD, email = EMAIL): Promise<Response> {
  const browser = new Browser();
  const page = await browser.request(`${users.url}/login?login_challenge=${challenge}`);
  return browser.submit(`${users.url}/login`, { ...formFields(await page.text()), email, password });
}

/** Creates an account and returns the subject user-service gives Hydra for it (the account id). */
async function signUpAndLogIn(email: string): Promise<string> {
  const browser = new Browser();
  const form = formFields(await (await browser.request(`${users.url}/signup`)).text());
  expect((await browser.submit(`${users.url}/signup`, { ...form, email, password: PASSWORD })).status).toBe(
    201,
  );
  expect((await login(hydra.addLoginRequest(), PASSWORD, email)).status).toBe(303);
  const accepted = hydra.callsTo('PUT', '/admin/oauth2/auth/requests/login/accept').at(-1);
  return String((accepted?.body as { subject: string }).subject);
}

describe('user-service as login and consent provider of Ory Hydra', () => {
  it('accepts a login with the account id as subject and sends the browser where Hydra says', async () => {
    const challenge = hydra.addLoginRequest();
    const response = await login(challenge);
    expect(response.status).toBe(303);
    const accept = hydra.callsTo('PUT', '/admin/oauth2/auth/requests/login/accept').at(-1);
    expect(accept?.query).toEqual({ login_challenge: challenge });
    expect(accept?.body).toMatchObject({ subject: userId });
    expect(response.headers.get('location')).toMatch(
      /^https:\/\/hydra\.example\/oauth2\/auth\?login_verifier=/,
    );
  });

  it('does not accept a login with a wrong password', async () => {
    const before = hydra.callsTo('PUT', '/admin/oauth2/auth/requests/login/accept').length;
    expect((await login(hydra.addLoginRequest(), 'wrong password!')).status).toBe(401);
    expect(hydra.callsTo('PUT', '/admin/oauth2/auth/requests/login/accept')).toHaveLength(before);
  });

  it('accepts without a form when Hydra says skip, with Hydra’s subject', async () => {
    const challenge = hydra.addLoginRequest({ skip: true, subject: userId });
    const response = await new Browser().request(`${users.url}/login?login_challenge=${challenge}`);
    expect(response.status).toBe(303);
    expect(hydra.callsTo('PUT', '/admin/oauth2/auth/requests/login/accept').at(-1)?.body).toMatchObject({
      subject: userId,
    });
  });

  it('follows Hydra’s 410 to where a decided request goes', async () => {
    const challenge = hydra.addLoginRequest();
    const first = await login(challenge);
    const again = await new Browser().request(`${users.url}/login?login_challenge=${challenge}`);
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
  });

  it('shows an expiry page for a challenge Hydra does not know', async () => {
    const response = await new Browser().request(`${users.url}/login?login_challenge=unknown`);
    expect(response.status).toBe(404);
    expect(await response.text()).toContain('This page has expired');
  });

  it('skips consent for a first-party client and puts the roles in the session', async () => {
    const challenge = hydra.addConsentRequest({
      subject: userId,
      client: { client_id: 'spincycle-mobile', skip_consent: true },
    });
    const response = await new Browser().request(`${users.url}/consent?consent_challenge=${challenge}`);
    expect(response.status).toBe(303);
    expect(hydra.callsTo('PUT', '/admin/oauth2/auth/requests/consent/accept').at(-1)?.body).toEqual({
      grant_scope: ['openid', 'offline_access'],
      grant_access_token_audience: ['spincycle-api'],
      remember: false,
      session: { access_token: { roles: ['homeowner'] }, id_token: { email: EMAIL, roles: ['homeowner'] } },
    });
  });

  it('asks about other clients and rejects when the user denies', async () => {
    const challenge = hydra.addConsentRequest({
      subject: userId,
      client: { client_id: 'partner', client_name: 'Partner' },
      scopes: ['openid'],
    });
    const browser = new Browser();
    const page = await browser.request(`${users.url}/consent?consent_challenge=${challenge}`);
    expect(page.status).toBe(200);
    const denied = await browser.submit(`${users.url}/consent`, {
      ...formFields(await page.text()),
      decision: 'deny',
    });
    expect(denied.status).toBe(303);
    expect(hydra.callsTo('PUT', '/admin/oauth2/auth/requests/consent/reject').at(-1)?.body).toEqual({
      error: 'access_denied',
      error_description: 'The user did not allow access',
    });
  });

  it('accepts and rejects logout requests', async () => {
    const browser = new Browser();
    const accept = hydra.addLogoutRequest(userId);
    const page = await browser.request(`${users.url}/logout?logout_challenge=${accept}`);
    const accepted = await browser.submit(`${users.url}/logout`, {
      ...formFields(await page.text()),
      decision: 'logout',
    });
    expect(accepted.status).toBe(303);
    expect(hydra.callsTo('PUT', '/admin/oauth2/auth/requests/logout/accept').at(-1)?.query).toEqual({
      logout_challenge: accept,
    });
    const stay = hydra.addLogoutRequest(userId);
    const stayPage = await browser.request(`${users.url}/logout?logout_challenge=${stay}`);
    const stayed = await browser.submit(`${users.url}/logout`, {
      ...formFields(await stayPage.text()),
      decision: 'stay',
    });
    expect(stayed.status).toBe(200);
    expect(hydra.callsTo('PUT', '/admin/oauth2/auth/requests/logout/reject').at(-1)?.query).toEqual({
      logout_challenge: stay,
    });
  });

  it('identifies API callers by the access proxy id_token and revokes everything of a deleted account', async () => {
    const auth = await asCaller(identity, userId);
    const me = await fetch(`${users.url}/me`, { headers: auth });
    expect(await me.json()).toMatchObject({ id: userId, email: EMAIL, roles: ['homeowner'] });
    // The access proxy introspected the app's token already; the service does not do it again.
    expect(hydra.callsTo('POST', '/admin/oauth2/introspect')).toEqual([]);

    expect((await fetch(`${users.url}/me`, { method: 'DELETE', headers: auth })).status).toBe(204);
    expect(hydra.callsTo('DELETE', '/admin/oauth2/auth/sessions/consent').at(-1)?.query).toEqual({
      subject: userId,
      all: 'true',
    });
    expect(hydra.callsTo('DELETE', '/admin/oauth2/auth/sessions/login').at(-1)?.query).toEqual({
      subject: userId,
    });
    expect((await fetch(`${users.url}/me`, { headers: auth })).status).toBe(404);
  });

  it('lets an admin, and only an admin, make someone a technician, whose tokens then say so', async () => {
    const adminId = await signUpAndLogIn('first.admin@example.com');
    const technicianId = await signUpAndLogIn('tech@example.com');
    // The first admin is made by an operator, with the service stopped (PGlite has one owner).
    await users.close();
    await grantRole(env, 'First.Admin@example.com', 'admin');
    users = await startUserService(env);

    const setRoles = (caller: { authorization: string }, target: string, body: unknown) =>
      fetch(`${users.url}/users/${target}/roles`, {
        method: 'PUT',
        headers: { ...caller, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const admin = await asCaller(identity, adminId, ['admin.users']);
    const technician = await asCaller(identity, technicianId, ['admin.users']);
    // Without the scope the access proxy's admin rule demands, not even an admin gets through.
    const unscoped = await asCaller(identity, adminId, ['openid']);
    expect((await setRoles(unscoped, technicianId, { roles: ['technician'] })).status).toBe(403);
    expect((await setRoles(technician, adminId, { roles: ['homeowner'] })).status).toBe(403);
    expect((await setRoles(admin, adminId, { roles: ['homeowner'] })).status).toBe(403);
    expect((await setRoles(admin, technicianId, { roles: ['wizard'] })).status).toBe(400);
    expect(
      (await setRoles(admin, '00000000-0000-4000-8000-000000000000', { roles: ['technician'] })).status,
    ).toBe(404);
    const revocations = () => hydra.callsTo('DELETE', '/admin/oauth2/auth/sessions/consent');
    // Refused changes end nobody's grants.
    expect(revocations().filter((c) => c.query.subject !== userId)).toEqual([]);
    const changed = await setRoles(admin, technicianId, { roles: ['technician'] });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ id: technicianId, roles: ['technician'] });
    // The grants made under the old roles end, at every client, so no refresh carries them on.
    expect(
      revocations()
        .filter((c) => c.query.subject !== userId)
        .map((c) => c.query),
    ).toEqual([{ subject: technicianId, all: 'true' }]);

    // The app asks for every scope it may use; consent gives admin scopes to admins only.
    const consentOf = async (subject: string) => {
      const consent = hydra.addConsentRequest({
        subject,
        client: { client_id: 'spincycle-mobile', skip_consent: true },
        scopes: ['openid', 'device.read', 'admin.provision', 'admin.users'],
      });
      const page = await new Browser().request(`${users.url}/consent?consent_challenge=${consent}`);
      expect(page.status).toBe(303);
      return hydra.callsTo('PUT', '/admin/oauth2/auth/requests/consent/accept').at(-1)?.body;
    };
    expect(await consentOf(technicianId)).toMatchObject({
      grant_scope: ['openid', 'device.read'],
      session: { access_token: { roles: ['technician'] } },
    });
    expect(await consentOf(adminId)).toMatchObject({
      grant_scope: ['openid', 'device.read', 'admin.provision', 'admin.users'],
      session: { access_token: { roles: expect.arrayContaining(['admin']) } },
    });
  });
});
