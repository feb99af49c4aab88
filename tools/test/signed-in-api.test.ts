import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { text } from 'node:stream/consumers';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import type { RunningService } from '@spincycle/common';
import {
  createTestDatabase,
  laterPort,
  requiredSecretsEnv,
  serviceTestEnv,
  type TestDatabase,
} from '@spincycle/common/testing';
import { start as startAuthServer, type RunningAuthServer } from '@spincycle/auth-server';
import { start as startCertService } from '@spincycle/cert-service';
import { config as certServiceConfig } from '@spincycle/cert-service/config';
import { start as startDeviceService } from '@spincycle/device-service';
import { config as deviceServiceConfig } from '@spincycle/device-service/config';
import { start as startGateway, type GatewayService } from '@spincycle/gateway';
import { start as startHibpService } from '@spincycle/hibp-service';
import { start as startUserService } from '@spincycle/user-service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeUrl, tokenRequest } from '../../auth-server/test/support/auth-server.js';
import { Browser, pkcePair } from '../../auth-server/test/support/browser.js';
import { formFields } from '../../user-service/test/support/stack.js';
import { APP_CLIENT, APP_REDIRECT_URI, registerAppClient } from '../src/app-client/app-client.js';
import { StackSecrets } from '../src/stack/secrets.js';
import { resolvePorts, STACK } from '../src/stack/services.js';

/**
 * The signed-in API as `npm start` wires it, in one process: auth-server, user-service (with the
 * real hibp-service), cert-service, device-service, and the gateway on the real rule files, whose
 * upstreams (the stack's default ports) are pointed at where the services run here. The app
 * client is registered the way the stack registers it.
 */
const REPO = new URL('../../', import.meta.url);
const EMAIL = 'e2e.owner@example.com';
const PASSWORD = `spin ${randomBytes(9).toString('base64url')}`;

const closers: (() => Promise<unknown>)[] = [];
let auth: RunningAuthServer;
let users: RunningService;
let gateway: GatewayService;
let api: string;

async function database(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase(label);
  closers.push(() => db.drop());
  return db;
}

async function running<T extends { close(): Promise<void> }>(service: Promise<T>): Promise<T> {
  const started = await service;
  closers.push(() => started.close());
  return started;
}

/** What `npm start` tells user-service about the client address, so that this test runs the same. */
function stackClientAddress(dir: string): Record<string, string> {
  const users = STACK.find((s) => s.name === 'user-service');
  const links = users?.links?.(resolvePorts({}), StackSecrets.open(dir), dir) ?? {};
  return links.CLIENT_ADDRESS_HEADER ? { CLIENT_ADDRESS_HEADER: links.CLIENT_ADDRESS_HEADER } : {};
}

/** A rule file with its upstreams moved from the stack's default ports to the running services. */
async function rulesFor(
  file: string,
  dir: string,
  services: Record<string, RunningService>,
): Promise<string> {
  let text = await readFile(new URL(file, REPO), 'utf8');
  for (const [name, service] of Object.entries(services)) {
    const port = STACK.find((s) => s.name === name)?.listeners.find((l) => l.variable === 'PORT')?.port;
    text = text.replaceAll(`"http://127.0.0.1:${port}"`, JSON.stringify(service.url));
  }
  const path = join(dir, file);
  await writeFile(path, text);
  return path;
}

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'spincycle-e2e-'));
  closers.push(() => rm(dir, { recursive: true, force: true }));
  // The gateway starts last (it needs every upstream), but the others must know its address.
  const [proxyPort, apiPort] = [await laterPort(), await laterPort()];
  const proxy = `http://127.0.0.1:${proxyPort}`;
  const gatewayApi = `http://127.0.0.1:${apiPort}`;
  const identity = {
    IDENTITY_JWKS_URL: `${gatewayApi}/.well-known/jwks.json`,
    IDENTITY_ISSUER: `${gatewayApi}/`,
  };
  const certToken = randomBytes(32).toString('base64url');

  const hibp = await running(
    startHibpService({ LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: '0', DATA_DIR: dir }),
  );
  auth = await running(
    startAuthServer(
      serviceTestEnv(await database('e2e-auth'), {
        PUBLIC_PORT: '0',
        ADMIN_PORT: '0',
        LOGIN_URL: `${proxy}/login`,
        CONSENT_URL: `${proxy}/consent`,
        LOGOUT_URL: `${proxy}/logout`,
        POST_LOGOUT_REDIRECT_URL: `${proxy}/logout/done`,
      }),
    ),
  );
  const cert = await running(
    startCertService(
      serviceTestEnv(await database('e2e-cert'), {
        PORT: '0',
        ...requiredSecretsEnv(certServiceConfig),
        INTERNAL_API_TOKEN: certToken,
      }),
    ),
  );
  users = await running(
    startUserService(
      serviceTestEnv(await database('e2e-users'), {
        PORT: '0',
        HYDRA_ADMIN_URL: auth.url,
        OAUTH2_PUBLIC_URL: auth.publicUrl,
        HIBP_URL: hibp.url,
        BCRYPT_COST: '10',
        COOKIE_SECURE: 'false',
        ...identity,
        ...stackClientAddress(dir),
        // Few, so that the lockout test needs few failures.
        LOGIN_MAX_FAILURES_PER_IP: '3',
      }),
    ),
  );
  const devices = await running(
    startDeviceService(
      serviceTestEnv(await database('e2e-devices'), {
        PORT: '0',
        ...requiredSecretsEnv(deviceServiceConfig),
        CERT_SERVICE_URL: cert.url,
        CERT_SERVICE_TOKEN: certToken,
        ...identity,
      }),
    ),
  );
  const upstreams = { 'user-service': users, 'device-service': devices, 'cert-service': cert };
  gateway = await running(
    startGateway({
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      PROXY_PORT: String(proxyPort),
      API_PORT: String(apiPort),
      ADMIN_PROXY_PORT: '0',
      RULES_PATH: await rulesFor('oathkeeper-rules.json', dir, upstreams),
      ADMIN_RULES_PATH: await rulesFor('oathkeeper-admin-rules.json', dir, upstreams),
      INTROSPECTION_URL: `${auth.url}/admin/oauth2/introspect`,
      ID_TOKEN_ISSUER_URL: `${gatewayApi}/`,
    }),
  );
  api = gateway.proxyUrl;
  if ((await registerAppClient(auth.url)) !== 'created') throw new Error('the app client existed already');
}, 240_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

/** The app's sign-in: authorization code with PKCE through the login page, behind the gateway. */
async function signIn(email: string, password: string): Promise<Record<string, string>> {
  const browser = new Browser();
  const pkce = pkcePair();
  const login = await browser.follow(
    authorizeUrl(auth.publicUrl, {
      client_id: APP_CLIENT.client_id,
      scope: APP_CLIENT.scope,
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
    }),
  );
  expect(login.response.status).toBe(200);
  expect(login.url.startsWith(`${api}/login?login_challenge=`)).toBe(true);
  const submitted = await browser.submit(`${api}/login`, {
    ...formFields(await login.response.text()),
    email,
    password,
  });
  expect(submitted.status).toBe(303);
  const toApp = await browser.follow(submitted.headers.get('location') ?? '', APP_REDIRECT_URI);
  const code = new URL(toApp.stoppedAt ?? 'about:blank').searchParams.get('code');
  if (!code) throw new Error(`the app got no code: ${toApp.stoppedAt ?? toApp.url}`);
  const exchanged = await tokenRequest(auth.publicUrl, {
    client_id: APP_CLIENT.client_id,
    grant_type: 'authorization_code',
    code,
    redirect_uri: APP_REDIRECT_URI,
    code_verifier: pkce.verifier,
  });
  expect(exchanged.status).toBe(200);
  return (await exchanged.json()) as Record<string, string>;
}

describe('the signed-in API through the gateway', () => {
  let tokens: Record<string, string>;
  const bearer = () => ({ authorization: `Bearer ${tokens.access_token}` });

  it('has the app client the stack registered, and registering it again changes nothing', async () => {
    expect(await registerAppClient(auth.url)).toBe('unchanged');
    const client = await fetch(`${auth.url}/admin/clients/${APP_CLIENT.client_id}`);
    expect(await client.json()).toMatchObject({
      token_endpoint_auth_method: 'none',
      redirect_uris: APP_CLIENT.redirect_uris,
      scope: APP_CLIENT.scope,
    });
  });

  it('signs a homeowner up and in with PKCE, with every API scope but the admin ones', async () => {
    const browser = new Browser();
    const form = await browser.request(`${api}/signup`);
    const created = await browser.submit(`${api}/signup`, {
      ...formFields(await form.text()),
      email: EMAIL,
      password: PASSWORD,
    });
    expect(created.status).toBe(201);
    tokens = await signIn(EMAIL, PASSWORD);
    expect(tokens.scope?.split(' ').sort()).toEqual(
      APP_CLIENT.scope
        .split(' ')
        .filter((s) => !s.startsWith('admin.'))
        .sort(),
    );
  });

  it('answers GET /me and GET /devices for the signed-in user', async () => {
    const me = await fetch(`${api}/me`, { headers: bearer() });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ email: EMAIL, roles: ['homeowner'] });
    const devices = await fetch(`${api}/devices`, { headers: bearer() });
    expect(devices.status).toBe(200);
    expect(await devices.json()).toEqual({ devices: [] });
  });

  it('answers 401 without a token, or with one the OAuth2 server did not issue', async () => {
    expect((await fetch(`${api}/me`)).status).toBe(401);
    expect((await fetch(`${api}/devices`)).status).toBe(401);
    // A JWT shaped like the gateway's own, signed by someone else, is just an unknown token.
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ scope: 'openid device.read', roles: ['admin'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject(randomUUID())
      .setAudience('device-service')
      .setIssuer(`${new URL(gateway.jwksUrl).origin}/`)
      .setExpirationTime('1m')
      .sign(privateKey);
    expect((await fetch(`${api}/devices`, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(
      401,
    );
  });

  it('gives a forged X-User-Id no effect', async () => {
    const someoneElse = randomUUID();
    expect((await fetch(`${api}/devices`, { headers: { 'x-user-id': someoneElse } })).status).toBe(401);
    const me = await fetch(`${api}/me`, { headers: { ...bearer(), 'x-user-id': someoneElse } });
    const own = (await me.json()) as { id: string };
    expect(own.id).not.toBe(someoneElse);
    expect(own).toMatchObject({ email: EMAIL });
    const devices = await fetch(`${api}/devices`, { headers: { ...bearer(), 'X-User-Id': someoneElse } });
    expect(await devices.json()).toEqual({ devices: [] });
  });

  it('keeps the admin API shut for a homeowner whose app asked for admin scopes', async () => {
    const provision = await fetch(`${gateway.adminProxyUrl}/admin/devices`, {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'wm-1', count: 1 }),
    });
    expect(provision.status).toBe(403);
  });
});

/** One request from `localAddress`: on loopback, another address is another client. */
async function requestFrom(
  localAddress: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers, localAddress });
  req.end(init.body);
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  return { status: res.statusCode ?? 0, headers: res.headers, text: await text(res) };
}

/** Submits the login page through the gateway from `localAddress`, claiming to be `forwardedFor`. */
async function loginFrom(localAddress: string, forwardedFor: string, email: string, password: string) {
  const toLogin = await new Browser().follow(
    authorizeUrl(auth.publicUrl, {
      client_id: APP_CLIENT.client_id,
      scope: APP_CLIENT.scope,
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    }),
    `${api}/login`,
  );
  const page = await requestFrom(localAddress, toLogin.stoppedAt ?? '');
  expect(page.status).toBe(200);
  const cookie = (page.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
  const submitted = await requestFrom(localAddress, `${api}/login`, {
    method: 'POST',
    headers: {
      cookie,
      'content-type': 'application/x-www-form-urlencoded',
      'x-forwarded-for': forwardedFor,
    },
    body: new URLSearchParams({ ...formFields(page.text), email, password }).toString(),
  });
  return submitted.status;
}

// Runs last: it locks the client 127.0.0.2 for the rest of the file.
describe('login lockout behind the gateway', () => {
  it('counts the address the gateway saw, whatever X-Forwarded-For the client sends', async () => {
    for (let i = 1; i <= 3; i++) {
      expect(
        await loginFrom('127.0.0.2', `198.51.100.${i}`, `guesser${i}@example.com`, 'a wrong guess'),
      ).toBe(401);
    }
    expect(await loginFrom('127.0.0.2', '198.51.100.99', EMAIL, PASSWORD)).toBe(429);
    // The lock is that client's, not the gateway's, and no one can pin it on another.
    expect(await loginFrom('127.0.0.1', '127.0.0.2', EMAIL, PASSWORD)).toBe(303);
  });
});
