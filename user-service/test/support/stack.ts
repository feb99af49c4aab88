import { createTestDatabase, laterPort, serviceTestEnv, type TestDatabase } from '@spincycle/common/testing';
import type { RunningService } from '@spincycle/common';
import type { RunningAuthServer } from '@spincycle/auth-server';
import { start as startUserService } from '@spincycle/user-service';
import type { Role } from '../../src/accounts/roles.js';
import { grantRole } from '../../src/grant-role.js';
import {
  APP_REDIRECT_URI,
  authorizeUrl,
  exchangeCode,
  introspect,
  registerMobileApp,
  startAuthServer,
} from '../../../auth-server/test/support/auth-server.js';
import { Browser, pkcePair } from '../../../auth-server/test/support/browser.js';
import { IdentityProvider, ISSUER } from '../../../device-service/test/support/identity-provider.js';
import { startHibp, type RunningHibp } from './hibp.js';

export const LEAKED_PASSWORD = 'password1234';

export interface Stack {
  auth: RunningAuthServer;
  users: RunningService;
  hibp: RunningHibp;
  /** Plays the access proxy's id_token mutator, the only source of callers of the account API. */
  identity: IdentityProvider;
  /** The operator's grant-role command, run the way the service allows it: with the service stopped. */
  grantRoles(grants: [email: string, role: Role][]): Promise<void>;
  close(): Promise<void>;
}

/** user-service's settings that make it trust `identity` as its access proxy. */
export function identityEnv(identity: IdentityProvider): Record<string, string> {
  return { IDENTITY_JWKS_URL: identity.jwksUrl, IDENTITY_ISSUER: ISSUER };
}

/** The Authorization header the access proxy hands user-service for a caller with these scopes. */
export async function asCaller(
  identity: IdentityProvider,
  subject: string,
  scopes: string[] = ['openid'],
): Promise<{ authorization: string }> {
  const token = await identity.token(subject, { scopes, audience: 'user-service' });
  return { authorization: `Bearer ${token}` };
}

/**
 * The identity stack as deployed on one machine: auth-server (playing Hydra) and user-service (its
 * login and consent provider), each on its own database, and
 * hibp-service with a filter in which LEAKED_PASSWORD is the leaked password.
 */
export async function startStack(extra: Record<string, string> = {}): Promise<Stack> {
  const databases: TestDatabase[] = [await createTestDatabase('auth'), await createTestDatabase('users')];
  const [authDb, usersDb] = databases as [TestDatabase, TestDatabase];
  const hibp = await startHibp([LEAKED_PASSWORD]);
  const identity = await IdentityProvider.start();
  // user-service's address must be known before auth-server starts, which must be known before
  // user-service starts: reserve user-service's port first.
  const usersPort = await laterPort();
  const pages = `http://127.0.0.1:${usersPort}`;
  const auth = await startAuthServer(authDb, {
    LOGIN_URL: `${pages}/login`,
    CONSENT_URL: `${pages}/consent`,
    LOGOUT_URL: `${pages}/logout`,
    POST_LOGOUT_REDIRECT_URL: `${pages}/logout/done`,
  });
  const registered = await registerMobileApp(auth.url);
  if (registered.status !== 201) throw new Error(`client registration answered ${registered.status}`);
  const usersEnv = serviceTestEnv(usersDb, {
    PORT: String(usersPort),
    HYDRA_ADMIN_URL: auth.url,
    OAUTH2_PUBLIC_URL: auth.publicUrl,
    HIBP_URL: hibp.url,
    BCRYPT_COST: '10',
    COOKIE_SECURE: 'false',
    ...identityEnv(identity),
    ...extra,
  });
  let users = await startUserService(usersEnv);
  return {
    auth,
    get users() {
      return users;
    },
    hibp,
    identity,
    async grantRoles(grants) {
      // PGlite has one owner; user-service comes back on the port auth-server sends browsers to.
      await users.close();
      for (const [email, role] of grants) await grantRole(usersEnv, email, role);
      users = await startUserService(usersEnv);
    },
    async close() {
      await users.close();
      await auth.close();
      await hibp.close();
      await identity.stop();
      for (const db of databases) await db.drop();
    },
  };
}

/** The hidden and visible inputs of the page's form, by name. */
export function formFields(page: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of page.matchAll(/<input\b[^>]*>/g)) {
    const name = /\bname="([^"]*)"/.exec(match[0])?.[1];
    const value = /\bvalue="([^"]*)"/.exec(match[0])?.[1];
    if (name) fields[name] = decodeEntities(value ?? '');
  }
  return fields;
}

function decodeEntities(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&#96;/g, '`')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Starts an authorization in a fresh browser and stops on user-service's login page. */
export async function openLoginPage(stack: Stack, browser = new Browser(), scope?: string) {
  const pkce = pkcePair();
  const { response, url } = await browser.follow(
    authorizeUrl(stack.auth.publicUrl, {
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      ...(scope ? { scope } : {}),
    }),
  );
  if (response.status !== 200 || !url.startsWith(`${stack.users.url}/login`)) {
    throw new Error(`expected the login page, got ${response.status} at ${url}`);
  }
  return { browser, pkce, page: await response.text(), url };
}

/**
 * Opens a login page in a fresh browser and submits it; `headers` go with the submission (the
 * client address a proxy passes on).
 */
export async function attemptLogin(
  stack: Stack,
  email: string,
  password: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  const { browser, page } = await openLoginPage(stack);
  return submitLogin(stack, page, browser, email, password, headers);
}

export async function submitLogin(
  stack: Stack,
  page: string,
  browser: Browser,
  email: string,
  password: string,
  headers: Record<string, string> = {},
) {
  return browser.submit(`${stack.users.url}/login`, { ...formFields(page), email, password }, headers);
}

/** Logs in through the pages and exchanges the code: the app's tokens for this account. */
export async function loginForTokens(
  stack: Stack,
  email: string,
  password: string,
  scope?: string,
): Promise<Record<string, string>> {
  const { browser, pkce, page } = await openLoginPage(stack, new Browser(), scope);
  const loggedIn = await submitLogin(stack, page, browser, email, password);
  if (loggedIn.status !== 303) throw new Error(`login answered ${loggedIn.status}`);
  const toApp = await browser.follow(loggedIn.headers.get('location') ?? '', APP_REDIRECT_URI);
  const code = new URL(toApp.stoppedAt ?? 'about:blank').searchParams.get('code');
  if (!code) throw new Error('no authorization code');
  const response = await exchangeCode(stack.auth.publicUrl, code, pkce.verifier);
  return (await response.json()) as Record<string, string>;
}

/** The account an access token was issued to, as the access proxy learns it by introspection. */
export async function subjectOf(stack: Stack, accessToken: string | undefined): Promise<string> {
  const { sub } = await introspect(stack.auth.url, String(accessToken));
  if (typeof sub !== 'string') throw new Error('the access token is not active');
  return sub;
}

/** Creates an account through the sign-up page, which needs user-service only. */
export async function signUp(
  stack: Pick<Stack, 'users'>,
  email: string,
  password: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  const browser = new Browser();
  const form = await browser.request(`${stack.users.url}/signup`);
  return browser.submit(
    `${stack.users.url}/signup`,
    { ...formFields(await form.text()), email, password },
    headers,
  );
}
