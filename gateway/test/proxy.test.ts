import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IdentityVerifier } from '@spincycle/common';
import { start, type GatewayService } from '../src/app.js';
import type { AccessRule } from '../src/rules/rules.js';
import { HydraStandIn } from './hydra-stand-in.js';
import { call, writeRules } from './support.js';
import { Upstream } from './upstream.js';

const ISSUER = 'http://gateway.test/';
const HOST = 'http://<[^/]+>';
const hydra = new HydraStandIn();
const upstream = new Upstream();
let dir: string;
let gateway: GatewayService;
let gatewayEnv: NodeJS.ProcessEnv;

const rule = (id: string, path: string, methods: string[], extra: Partial<AccessRule> = {}): AccessRule => ({
  id,
  match: { url: `${HOST}${path}`, methods },
  authenticators: [{ handler: 'anonymous' }],
  authorizer: { handler: 'allow' },
  mutators: [{ handler: 'noop' }],
  upstream: { url: upstream.url },
  ...extra,
});

const introspected = (scope: string, audience: string): Partial<AccessRule> => ({
  authenticators: [
    { handler: 'oauth2_introspection', config: { scope_strategy: 'exact', required_scope: [scope] } },
  ],
  mutators: [
    {
      handler: 'id_token',
      config: { claims: `{"aud": ["${audience}"], "scope": {{ .Extra.scope | toJson }}}` },
    },
  ],
});

beforeAll(async () => {
  await Promise.all([hydra.start(), upstream.start()]);
  dir = await mkdtemp(join(tmpdir(), 'gateway-e2e-'));
  const rules = await writeRules(join(dir, 'rules.json'), [
    rule('devices:read', '/devices/<[^/]+>', ['GET'], introspected('device.read', 'device-service')),
    rule('whoami', '/whoami', ['GET'], {
      authenticators: [
        { handler: 'oauth2_introspection', config: { scope_strategy: 'exact', required_scope: ['openid'] } },
      ],
      mutators: [{ handler: 'header', config: { headers: { 'X-User-Id': '{{ print .Subject }}' } } }],
    }),
    rule('pages', '/login', ['GET', 'POST'], { upstream: { url: upstream.url, preserve_host: true } }),
    rule('api', '/api/v1/<.*>', ['GET', 'POST'], {
      authenticators: [{ handler: 'noop' }],
      upstream: { url: `${upstream.url}/base`, strip_path: '/api/v1' },
    }),
    rule('stream', '/stream', ['GET']),
    rule('denied', '/denied', ['GET'], { authorizer: { handler: 'deny' } }),
    rule('overlap:any', '/overlap/<.*>', ['GET']),
    rule('overlap:letters', '/overlap/<[a-z]+>', ['GET']),
  ]);
  const adminRules = join(dir, 'admin-rules.yaml');
  await writeFile(
    adminRules,
    [
      '- id: admin:provision',
      `  match: { url: "${HOST}/admin/devices", methods: [POST] }`,
      '  authenticators: [{ handler: oauth2_introspection, config: { scope_strategy: exact, required_scope: [admin.provision] } }]',
      '  authorizer: { handler: allow }',
      '  mutators: [{ handler: id_token, config: { claims: \'{"aud": ["device-service"]}\' } }]',
      `  upstream: { url: "${upstream.url}" }`,
    ].join('\n'),
  );
  gatewayEnv = {
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PROXY_PORT: '0',
    API_PORT: '0',
    ADMIN_PROXY_PORT: '0',
    RULES_PATH: rules,
    ADMIN_RULES_PATH: adminRules,
    INTROSPECTION_URL: hydra.url,
    ID_TOKEN_ISSUER_URL: ISSUER,
    MAX_BODY_BYTES: '1024',
    RATE_LIMIT_BURST: '1000',
  };
  gateway = await start(gatewayEnv);
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([hydra.close(), upstream.close()]);
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  upstream.received.length = 0;
});

const proxied = (path: string) => `${gateway.proxyUrl}${path}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('gateway access decisions', () => {
  it.each([
    ['no token', () => ({})],
    ['an unknown token', () => bearer('ory_at_never-issued')],
    [
      'an expired token',
      () => bearer(hydra.issue({ sub: 'u', scope: 'device.read', exp: Math.floor(Date.now() / 1000) - 5 })),
    ],
    [
      'a revoked token',
      () => {
        const token = hydra.issue({ sub: 'u', scope: 'device.read' });
        hydra.revoke(token);
        return bearer(token);
      },
    ],
  ])('answers 401 to %s and forwards nothing', async (_label, headers) => {
    const answer = await call(proxied('/devices/d1'), { headers: headers() });
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body)).toEqual({
      error: { code: 401, status: 'Unauthorized', message: 'Access credentials are invalid' },
    });
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses a token revoked after its first use on the next request when INTROSPECTION_CACHE_MAX_TTL_MS is 0', async () => {
    const uncached = await start({ ...gatewayEnv, INTROSPECTION_CACHE_MAX_TTL_MS: '0' });
    try {
      const token = hydra.issue({ sub: 'u', scope: 'device.read' });
      const read = () => call(`${uncached.proxyUrl}/devices/d1`, { headers: bearer(token) });
      expect((await read()).status).toBe(200);
      hydra.revoke(token);
      expect((await read()).status).toBe(401);
    } finally {
      await uncached.close();
    }
  });

  it('answers 403 to a token without the required scope', async () => {
    const token = hydra.issue({ sub: 'u', scope: 'openid device.control' });
    const answer = await call(proxied('/devices/d1'), { headers: bearer(token) });
    expect(answer.status).toBe(403);
    expect(upstream.received).toHaveLength(0);
  });

  it('answers 404 to a request no rule matches, and to a method the rule does not list', async () => {
    expect((await call(proxied('/nowhere'))).status).toBe(404);
    const answer = await call(proxied('/devices/d1'), { method: 'DELETE' });
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: { message: 'Requested url does not match any rules' },
    });
  });

  it('answers 500 when two rules match', async () => {
    const answer = await call(proxied('/overlap/abc'));
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: { message: 'Expected exactly one rule but found multiple rules' },
    });
    expect((await call(proxied('/overlap/ABC'))).status).toBe(200);
  });

  it('answers 403 when the rule denies', async () => {
    expect((await call(proxied('/denied'))).status).toBe(403);
  });

  it('serves ops endpoints on the API listener only', async () => {
    expect((await call(proxied('/health'))).status).toBe(404);
    expect((await call(`${gateway.url}/health/live`)).status).toBe(200);
  });
});

describe('identity handed to services', () => {
  it('replaces the client token with an id_token the service verifies through the JWKS URL', async () => {
    const token = hydra.issue({ sub: 'user-42', scope: 'device.read' });
    const answer = await call(proxied('/devices/d1'), {
      headers: { ...bearer(token), 'x-user-id': 'admin' },
    });
    expect(answer.status).toBe(200);
    const received = upstream.last();
    expect(received.headers.authorization).not.toContain(token);
    expect(received.headers['x-user-id']).toBeUndefined();
    const verifier = new IdentityVerifier({
      jwksUrl: gateway.jwksUrl,
      issuer: ISSUER,
      audience: 'device-service',
    });
    const identity = await verifier.fromAuthorization(received.headers.authorization);
    expect(identity).toMatchObject({ id: 'user-42', scopes: new Set(['device.read']) });
  });

  it('gives a forged X-User-Id no effect: the header mutator writes the real subject', async () => {
    const token = hydra.issue({ sub: 'user-7', scope: 'openid' });
    await call(proxied('/whoami'), {
      headers: {
        ...bearer(token),
        'X-User-Id': 'admin',
        'x-user-roles': 'admin',
        'X-USER-EMAIL': 'boss@example.com',
      },
    });
    const { headers } = upstream.last();
    expect(headers['x-user-id']).toBe('user-7');
    expect(headers['x-user-roles']).toBeUndefined();
    expect(headers['x-user-email']).toBeUndefined();
    expect(headers.authorization).toBeUndefined();
  });

  it('drops a forged X-User-Id on anonymous routes too', async () => {
    await call(proxied('/login'), { headers: { 'x-user-id': 'admin' } });
    expect(upstream.last().headers['x-user-id']).toBeUndefined();
  });
});

describe('upstream proxying', () => {
  it('strips the path prefix, keeps the query and sends the upstream its own host', async () => {
    const answer = await call(proxied('/api/v1/things/t1?page=2&q=a%20b'), {
      headers: bearer('passed-through'),
    });
    expect(answer.status).toBe(200);
    const received = upstream.last();
    expect(received.url).toBe('/base/things/t1?page=2&q=a%20b');
    expect(received.headers.host).toBe(new URL(upstream.url).host);
    // noop hands the request over untouched, credentials included.
    expect(received.headers.authorization).toBe('Bearer passed-through');
  });

  it('keeps the client host with preserve_host', async () => {
    await call(proxied('/login'), { headers: { host: 'accounts.example.com' } });
    expect(upstream.last().headers.host).toBe('accounts.example.com');
  });

  it('forwards the cleaned path that the rule matched', async () => {
    expect((await call(proxied('/login/../api/v1/x'))).status).toBe(200);
    expect(upstream.last().url).toBe('/base/x');
    expect((await call(proxied('/api/v1/..%2f..%2fadmin'))).status).toBe(400);
  });

  it('streams a chunked request body up and a chunked response down', async () => {
    const parts = ['alpha;', 'beta;', 'gamma;'].map((p) => Buffer.from(p));
    const answer = await call(proxied('/api/v1/upload'), { method: 'POST', body: parts });
    expect(answer.status).toBe(200);
    expect(upstream.last()).toMatchObject({ body: 'alpha;beta;gamma;', method: 'POST' });
    const stream = await call(proxied('/stream'));
    expect(stream.headers['transfer-encoding']).toBe('chunked');
    expect(stream.body).toBe('chunk-5;chunk-4;chunk-3;chunk-2;chunk-1;');
  });

  it('removes hop-by-hop headers both ways and the upstream banner', async () => {
    const answer = await call(proxied('/login'), {
      headers: {
        connection: 'keep-alive, x-hop',
        'x-hop': 'secret',
        te: 'trailers',
        'proxy-authorization': 'Basic x',
      },
    });
    const { headers } = upstream.last();
    expect(headers['x-hop']).toBeUndefined();
    expect(headers['proxy-authorization']).toBeUndefined();
    expect(headers.te).toBeUndefined();
    expect(answer.headers.server).toBeUndefined();
    expect(answer.headers['x-powered-by']).toBeUndefined();
    expect(answer.headers['x-extra']).toBe('kept');
  });

  it('refuses a declared body over the limit with 413 before contacting the upstream', async () => {
    const answer = await call(proxied('/api/v1/upload'), { method: 'POST', body: 'x'.repeat(1025) });
    expect(answer.status).toBe(413);
    expect(upstream.received).toHaveLength(0);
  });

  it('never lets a chunked body past the limit reach the upstream', async () => {
    const chunks = Array.from({ length: 8 }, () => Buffer.alloc(512, 'y'));
    const outcome = await call(proxied('/api/v1/upload'), { method: 'POST', body: chunks }).then(
      (answer) => answer.status,
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect([413, 'ECONNRESET', 'EPIPE']).toContain(outcome);
    expect(upstream.received.every((r) => r.bytes <= 1024)).toBe(true);
  });

  it('appends the peer address to X-Forwarded-For and ignores what the client claimed', async () => {
    await call(proxied('/login'), {
      headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-host': 'evil.test' },
    });
    const { headers } = upstream.last();
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-host']).not.toBe('evil.test');
    expect(headers['x-forwarded-proto']).toBe('http');
  });

  it('answers 502 when the upstream is down', async () => {
    const down = await writeRules(join(dir, 'down.json'), [
      { ...rule('down', '/down', ['GET']), upstream: { url: 'http://127.0.0.1:9' } },
    ]);
    const other = await start({
      LOG_LEVEL: 'silent',
      PROXY_PORT: '0',
      API_PORT: '0',
      RULES_PATH: down,
      INTROSPECTION_URL: hydra.url,
    });
    try {
      const answer = await call(`${other.proxyUrl}/down`);
      expect(answer.status).toBe(502);
      expect(answer.body).not.toContain('ECONNREFUSED');
    } finally {
      await other.close();
    }
  });
});

describe('admin listener', () => {
  it('serves the admin rules on 127.0.0.1 only, never on the public listener', async () => {
    expect(new URL(gateway.adminProxyUrl ?? '').hostname).toBe('127.0.0.1');
    const admin = hydra.issue({ sub: 'ops', scope: 'admin.provision' });
    const answer = await call(`${gateway.adminProxyUrl}/admin/devices`, {
      method: 'POST',
      headers: bearer(admin),
      body: '[]',
    });
    expect(answer.status).toBe(200);
    expect(
      (await call(proxied('/admin/devices'), { method: 'POST', headers: bearer(admin), body: '[]' })).status,
    ).toBe(404);
    const homeowner = hydra.issue({ sub: 'u', scope: 'device.read' });
    const refused = await call(`${gateway.adminProxyUrl}/admin/devices`, {
      method: 'POST',
      headers: bearer(homeowner),
    });
    expect(refused.status).toBe(403);
  });
});

describe('start-up', () => {
  it('refuses to start on a broken rules file and names the rule and the problem', async () => {
    const broken = await writeRules(join(dir, 'broken.json'), [
      rule('broken-one', '/x', ['GET'], { mutators: [] }),
    ]);
    await expect(
      start({ LOG_LEVEL: 'silent', PROXY_PORT: '0', API_PORT: '0', RULES_PATH: broken }),
    ).rejects.toThrow(/rule 'broken-one': mutators must list at least one handler/);
  });
});
