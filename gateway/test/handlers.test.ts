import type { IncomingHttpHeaders } from 'node:http';
import { createLocalJWKSet, decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IdentityVerifier } from '@spincycle/common';
import {
  buildAuthenticator,
  buildAuthorizer,
  buildMutator,
  type HandlerContext,
} from '../src/pipeline/handlers.js';
import { IntrospectionClient, type IntrospectionConfig } from '../src/pipeline/introspection.js';
import {
  NOT_RESPONSIBLE,
  PipelineError,
  type AuthenticationSession,
  type PipelineRequest,
} from '../src/pipeline/types.js';
import { HydraStandIn } from './hydra-stand-in.js';
import { handlerContext, ISSUER } from './support.js';

const request = (headers: IncomingHttpHeaders = {}, query = ''): PipelineRequest => ({
  method: 'GET',
  url: new URL('https://api.test/devices/d1'),
  query: new URLSearchParams(query),
  headers,
  captures: ['https', 'd1'],
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The HTTP status a handler refuses with, or 'ok'. */
async function statusOf(run: () => Promise<unknown>): Promise<number | 'ok'> {
  try {
    await run();
    return 'ok';
  } catch (err) {
    if (err instanceof PipelineError) return err.status;
    throw err;
  }
}

const hydra = new HydraStandIn();
let now = Date.now();
let client: IntrospectionClient;
let context: HandlerContext;

beforeAll(async () => {
  await hydra.start();
});
afterAll(() => hydra.close());
beforeEach(async () => {
  now = Date.now();
  hydra.calls.length = 0;
  hydra.failWith = undefined;
  hydra.reportExpAs = undefined;
  client = new IntrospectionClient({ now: () => now });
  context = await handlerContext(hydra.url, client);
});

const introspection = (config: Partial<IntrospectionConfig> = {}) =>
  buildAuthenticator({ handler: 'oauth2_introspection', config }, context);
const exact = (...scopes: string[]) => ({ scope_strategy: 'exact' as const, required_scope: scopes });

describe('oauth2_introspection authenticator', () => {
  it('turns an active token into a session with the token subject and extra', async () => {
    const token = hydra.issue({ sub: 'user-1', scope: 'openid device.read', ext: { roles: ['homeowner'] } });
    const session = await introspection(exact('device.read')).authenticate(request(bearer(token)));
    expect(session).toMatchObject({
      subject: 'user-1',
      extra: { roles: ['homeowner'], scope: 'openid device.read', client_id: 'spincycle-app' },
      forwardCredentials: false,
    });
    expect(hydra.calls[0]).toMatchObject({ token, scope: undefined });
  });

  it('is not responsible for a request without a bearer token', async () => {
    expect(await introspection().authenticate(request())).toBe(NOT_RESPONSIBLE);
    expect(await introspection().authenticate(request({ authorization: 'Basic dXNlcjpwYXNz' }))).toBe(
      NOT_RESPONSIBLE,
    );
    expect(hydra.calls).toHaveLength(0);
  });

  it.each([
    ['an unknown token', () => 'ory_at_unknown'],
    [
      'a revoked token',
      () => {
        const token = hydra.issue({ sub: 'user-1', scope: 'device.read' });
        hydra.revoke(token);
        return token;
      },
    ],
    [
      'an expired token',
      () => hydra.issue({ sub: 'user-1', scope: 'device.read', exp: Math.floor(Date.now() / 1000) - 1 }),
    ],
  ])('refuses %s with 401', async (_label, makeToken) => {
    const token = makeToken();
    expect(
      await statusOf(() => introspection(exact('device.read')).authenticate(request(bearer(token)))),
    ).toBe(401);
  });

  it('refuses with 401 a token the server calls active past its exp', async () => {
    const token = hydra.issue({ sub: 'user-1', scope: 'device.read' });
    hydra.reportExpAs = Math.floor(now / 1000) - 10;
    expect(
      await statusOf(() => introspection(exact('device.read')).authenticate(request(bearer(token)))),
    ).toBe(401);
  });

  it.each<[string, Partial<IntrospectionConfig>, Parameters<HydraStandIn['issue']>[0], number | 'ok']>([
    ['a missing scope (exact)', exact('device.control'), { sub: 'u', scope: 'device.read' }, 403],
    ['a broader scope (exact)', exact('device.read'), { sub: 'u', scope: 'device' }, 403],
    [
      'a broader scope (hierarchic)',
      { scope_strategy: 'hierarchic', required_scope: ['device.read'] },
      { sub: 'u', scope: 'device' },
      'ok',
    ],
    [
      'a wildcard scope (wildcard)',
      { scope_strategy: 'wildcard', required_scope: ['device.read'] },
      { sub: 'u', scope: 'device.*' },
      'ok',
    ],
    ['a foreign audience', { target_audience: ['device-service'] }, { sub: 'u', aud: ['other'] }, 403],
    [
      'the wanted audience',
      { target_audience: ['device-service'] },
      { sub: 'u', aud: ['device-service', 'x'] },
      'ok',
    ],
    ['an untrusted issuer', { trusted_issuers: ['http://other-hydra/'] }, { sub: 'u' }, 403],
    ['a trusted issuer', { trusted_issuers: ['http://hydra.test/'] }, { sub: 'u' }, 'ok'],
    ['a refresh token', {}, { sub: 'u', token_use: 'refresh_token' }, 403],
  ])('answers %s with %s', async (_label, config, claims, expected) => {
    const token = hydra.issue(claims);
    expect(await statusOf(() => introspection(config).authenticate(request(bearer(token))))).toBe(expected);
  });

  it('leaves the scope check to Hydra with scope_strategy none, which then reports the token inactive (401)', async () => {
    const token = hydra.issue({ sub: 'u', scope: 'device.read' });
    const auth = introspection({ required_scope: ['device.control', 'events.read'] });
    expect(await statusOf(() => auth.authenticate(request(bearer(token))))).toBe(401);
    expect(hydra.calls[0]?.scope).toBe('device.control events.read');
  });

  it('introspects a token once and answers from the cache until it expires', async () => {
    const exp = Math.floor(now / 1000) + 60;
    const token = hydra.issue({ sub: 'u', scope: 'device.read', exp });
    const read = introspection(exact('device.read'));
    const control = introspection(exact('device.control'));
    await read.authenticate(request(bearer(token)));
    await read.authenticate(request(bearer(token)));
    // Another rule's scope is checked against the cached answer, not taken from it.
    expect(await statusOf(() => control.authenticate(request(bearer(token))))).toBe(403);
    expect(hydra.calls).toHaveLength(1);
    now = exp * 1000;
    expect(await statusOf(() => read.authenticate(request(bearer(token))))).toBe(401);
    expect(hydra.calls).toHaveLength(2);
  });

  it('ends a cached answer early when the rule sets a cache ttl', async () => {
    const token = hydra.issue({ sub: 'u', scope: 'device.read' });
    const auth = introspection({ ...exact('device.read'), cache: { ttl: '10s' } });
    await auth.authenticate(request(bearer(token)));
    hydra.revoke(token);
    now += 9_999;
    await auth.authenticate(request(bearer(token)));
    now += 1;
    expect(await statusOf(() => auth.authenticate(request(bearer(token))))).toBe(401);
    expect(hydra.calls).toHaveLength(2);
  });

  it.each<[string, IntrospectionConfig['cache']]>([
    ['sets no cache ttl', undefined],
    ['sets a longer cache ttl', { ttl: '1h' }],
  ])(
    "refuses a token revoked after its first use once the gateway's cache bound has passed, when the rule %s",
    async (_label, cache) => {
      client = new IntrospectionClient({ now: () => now, maxCacheTtlMs: 1_000 });
      context = await handlerContext(hydra.url, client);
      const token = hydra.issue({ sub: 'u', scope: 'device.read' });
      const auth = introspection({ ...exact('device.read'), cache });
      await auth.authenticate(request(bearer(token)));
      hydra.revoke(token);
      now += 999;
      expect(await statusOf(() => auth.authenticate(request(bearer(token))))).toBe('ok');
      now += 1;
      expect(await statusOf(() => auth.authenticate(request(bearer(token))))).toBe(401);
      expect(hydra.calls).toHaveLength(2);
    },
  );

  it('reuses an answer for 30 seconds at most by default, though the token lives 15 minutes', async () => {
    const token = hydra.issue({ sub: 'u', scope: 'device.read', exp: Math.floor(now / 1000) + 900 });
    const auth = introspection(exact('device.read'));
    await auth.authenticate(request(bearer(token)));
    hydra.revoke(token);
    now += 30_000;
    expect(await statusOf(() => auth.authenticate(request(bearer(token))))).toBe(401);
  });

  it('does not cache when the rule turns the cache off, nor inactive answers', async () => {
    const token = hydra.issue({ sub: 'u', scope: 'device.read' });
    const auth = introspection({ ...exact('device.read'), cache: { enabled: false } });
    await auth.authenticate(request(bearer(token)));
    await auth.authenticate(request(bearer(token)));
    await statusOf(() => auth.authenticate(request(bearer('ory_at_unknown'))));
    await statusOf(() => auth.authenticate(request(bearer('ory_at_unknown'))));
    expect(hydra.calls).toHaveLength(4);
    expect(client.cachedEntries()).toBe(0);
  });

  it.each([
    [500, 500],
    [401, 500],
    [429, 429],
  ])('answers %s from the introspection endpoint with %s', async (upstream, expected) => {
    hydra.failWith = upstream;
    const token = hydra.issue({ sub: 'u' });
    expect(await statusOf(() => introspection().authenticate(request(bearer(token))))).toBe(expected);
  });

  it('fails closed with 500 when the introspection endpoint is unreachable', async () => {
    const unreachable = buildAuthenticator(
      { handler: 'oauth2_introspection', config: { introspection_url: 'http://127.0.0.1:9/introspect' } },
      context,
    );
    expect(await statusOf(() => unreachable.authenticate(request(bearer('t'))))).toBe(500);
  });

  it('reads the token from a header, a query parameter or a cookie as token_from says', async () => {
    const token = hydra.issue({ sub: 'u' });
    const fromHeader = introspection({ token_from: { header: 'X-Api-Token' } });
    const fromQuery = introspection({ token_from: { query_parameter: 'access_token' } });
    const fromCookie = introspection({ token_from: { cookie: 'session' } });
    expect(await fromHeader.authenticate(request({ 'x-api-token': token }))).toMatchObject({ subject: 'u' });
    expect(await fromQuery.authenticate(request({}, `access_token=${token}`))).toMatchObject({
      subject: 'u',
    });
    expect(await fromCookie.authenticate(request({ cookie: `a=b; session=${token}` }))).toMatchObject({
      subject: 'u',
    });
    expect(await fromHeader.authenticate(request(bearer(token)))).toBe(NOT_RESPONSIBLE);
  });

  it('considers only tokens with the configured prefix', async () => {
    const token = hydra.issue({ sub: 'u' });
    expect(await introspection({ prefix: 'ory_at_' }).authenticate(request(bearer(token)))).toMatchObject({
      subject: 'u',
    });
    expect(await introspection({ prefix: 'other_' }).authenticate(request(bearer(token)))).toBe(
      NOT_RESPONSIBLE,
    );
  });

  it('sends the configured headers and, with preserve_host, the original host', async () => {
    const token = hydra.issue({ sub: 'u' });
    await introspection({
      preserve_host: true,
      introspection_request_headers: { 'x-tenant': 'spincycle' },
    }).authenticate(request(bearer(token)));
    expect(hydra.calls[0]?.headers).toMatchObject({
      'x-tenant': 'spincycle',
      'x-forwarded-host': 'api.test',
    });
  });
});

describe('anonymous, noop and unauthorized authenticators', () => {
  it('anonymous names a request without credentials and leaves one with credentials to the next', async () => {
    const anonymous = buildAuthenticator({ handler: 'anonymous' }, context);
    expect(await anonymous.authenticate(request())).toMatchObject({
      subject: 'anonymous',
      forwardCredentials: false,
    });
    expect(await anonymous.authenticate(request(bearer('t')))).toBe(NOT_RESPONSIBLE);
    const guest = buildAuthenticator({ handler: 'anonymous', config: { subject: 'guest' } }, context);
    expect(await guest.authenticate(request())).toMatchObject({ subject: 'guest' });
  });

  it('noop lets every request through with its own credentials', async () => {
    const noop = buildAuthenticator({ handler: 'noop' }, context);
    expect(await noop.authenticate(request(bearer('t')))).toMatchObject({
      subject: '',
      forwardCredentials: true,
    });
  });

  it('unauthorized refuses every request with 401', async () => {
    const refuse = buildAuthenticator({ handler: 'unauthorized' }, context);
    expect(await statusOf(() => refuse.authenticate(request()))).toBe(401);
  });
});

const session = (subject = 'user-1', extra: Record<string, unknown> = {}): AuthenticationSession => ({
  subject,
  extra,
  header: {},
  forwardCredentials: false,
});

describe('authorizers', () => {
  it('allow allows and deny answers 403', async () => {
    expect(await statusOf(() => buildAuthorizer({ handler: 'allow' }).authorize(session(), request()))).toBe(
      'ok',
    );
    expect(await statusOf(() => buildAuthorizer({ handler: 'deny' }).authorize(session(), request()))).toBe(
      403,
    );
  });
});

describe('mutators', () => {
  it('noop changes nothing', async () => {
    const s = session();
    await buildMutator({ handler: 'noop' }, context).mutate(s, request());
    expect(s.header).toEqual({});
  });

  it('header renders its templates from the session', async () => {
    const mutator = buildMutator(
      {
        handler: 'header',
        config: {
          headers: {
            'X-User-Id': '{{ print .Subject }}',
            'X-User-Email': '{{ print .Extra.email }}',
            'X-Device': '{{ index .MatchContext.RegexpCaptureGroups 1 }}',
          },
        },
      },
      context,
    );
    const s = session('user-1', { email: 'ann@example.com' });
    await mutator.mutate(s, request());
    expect(s.header).toEqual({ 'x-user-id': 'user-1', 'x-user-email': 'ann@example.com', 'x-device': 'd1' });
  });

  it('header refuses to render a line break into a header (500)', async () => {
    const mutator = buildMutator(
      { handler: 'header', config: { headers: { 'X-User': '{{ print .Subject }}' } } },
      context,
    );
    expect(await statusOf(() => mutator.mutate(session('a\r\nX-Admin: yes'), request()))).toBe(500);
  });

  it('id_token signs a short-lived JWT that the service verifier accepts for its audience only', async () => {
    const mutator = buildMutator(
      {
        handler: 'id_token',
        config: {
          claims:
            '{"aud": ["device-service"], "scope": {{ .Extra.scope | toJson }}, "roles": {{ .Extra.roles | toJson }}}',
        },
      },
      context,
    );
    const s = session('user-1', { scope: 'openid device.read', roles: ['homeowner'] });
    await mutator.mutate(s, request());
    const token = /^Bearer (.+)$/.exec(s.header.authorization ?? '')?.[1] ?? '';
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ iss: ISSUER, sub: 'user-1', aud: ['device-service'] });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(60);
    const keys = createLocalJWKSet(context.keys.jwks);
    const verifier = new IdentityVerifier({
      jwksUrl: 'http://unused/',
      issuer: ISSUER,
      audience: 'device-service',
      keys,
    });
    expect(await verifier.fromAuthorization(s.header.authorization)).toMatchObject({
      id: 'user-1',
      scopes: new Set(['openid', 'device.read']),
      roles: new Set(['homeowner']),
    });
    const other = new IdentityVerifier({
      jwksUrl: 'http://unused/',
      issuer: ISSUER,
      audience: 'user-service',
      keys,
    });
    await expect(other.verify(token)).rejects.toThrow(/rejected/);
  });

  it('id_token answers 500 when its claims template does not render JSON', async () => {
    const mutator = buildMutator(
      { handler: 'id_token', config: { claims: '{"aud": {{ print .Subject }}}' } },
      context,
    );
    expect(await statusOf(() => mutator.mutate(session('not json'), request()))).toBe(500);
  });
});
