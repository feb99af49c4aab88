import { type RunningService } from '@spincycle/common';
import {
  createTestDatabase,
  requiredSecretsEnv,
  serviceTestEnv,
  type TestDatabase,
} from '@spincycle/common/testing';
import { start as startCertService } from '@spincycle/cert-service';
import { config as certServiceConfig } from '@spincycle/cert-service/config';
import { start as startDeviceService } from '@spincycle/device-service';
import { config as deviceServiceConfig } from '@spincycle/device-service/config';
import { start as startUserService } from '@spincycle/user-service';
import { config as userServiceConfig } from '@spincycle/user-service/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ruleCoverage, type InternalRoute, type ServiceRoute } from '../src/rules/coverage.js';
import { compileRules, type CompiledRule } from '../src/rules/rules.js';
import { STACK } from '../../tools/src/stack/services.js';
import { handlerContext, readJson } from './support.js';

/** Admin routes the services have: served by oathkeeper-admin-rules.json on the internal listener. */
const ADMIN_ROUTES: ServiceRoute[] = [
  { method: 'PUT', path: '/users/:id/roles' },
  { method: 'POST', path: '/admin/devices' },
  { method: 'POST', path: '/admin/firmware' },
  { method: 'GET', path: '/admin/firmware' },
  { method: 'GET', path: '/admin/firmware/:firmwareId' },
  { method: 'POST', path: '/admin/firmware/:firmwareId/rollouts' },
];

/**
 * Routes that stay off the public rules on purpose, each with its reason. A route here that a
 * public rule matches fails the test too: "internal" must really be unreachable from outside.
 */
const INTERNAL: InternalRoute[] = [
  {
    method: '*',
    path: '/health',
    reason: 'readiness report: probes reach each service directly, not via the proxy',
  },
  { method: '*', path: '/health/live', reason: 'liveness probe, cluster-internal' },
  { method: '*', path: '/health/ready', reason: 'readiness probe, cluster-internal' },
  {
    method: '*',
    path: '/metrics',
    reason: 'Prometheus scrapes each service directly; metrics are not public',
  },
  { method: '*', path: '/webhooks/**', reason: "cert-service's broker webhooks: only the broker calls them" },
  { method: '*', path: '/internal/**', reason: 'service-to-service API behind INTERNAL_API_TOKEN' },
  ...ADMIN_ROUTES.map((route) => ({
    ...route,
    reason: 'admin API: admin rules on the internal listener only',
  })),
];

/** device-service routes the issue plans and the rules already serve; each must hit exactly one rule. */
const PLANNED_PUBLIC: ServiceRoute[] = [
  { method: 'GET', path: '/devices' },
  { method: 'GET', path: '/devices/:id' },
  { method: 'PATCH', path: '/devices/:id' },
  { method: 'PUT', path: '/devices/:id/settings' },
  { method: 'GET', path: '/devices/:id/events' },
  { method: 'POST', path: '/claims' },
  { method: 'DELETE', path: '/devices/:id/claim' },
  { method: 'POST', path: '/devices/:id/provisioning' },
  { method: 'GET', path: '/devices/:id/provisioning' },
  { method: 'GET', path: '/devices/:id/grants' },
  { method: 'POST', path: '/devices/:id/grants' },
  { method: 'DELETE', path: '/devices/:id/grants/:grantId' },
  { method: 'GET', path: '/devices/:id/audit' },
  { method: 'GET', path: '/technician/devices' },
];

const PLANNED_ADMIN: ServiceRoute[] = [
  { method: 'POST', path: '/admin/devices' },
  { method: 'GET', path: '/admin/devices/:id/label' },
];

const CLEAN = { unmatched: [], ambiguous: [], exposed: [] };
const asInternal = (routes: ServiceRoute[]): InternalRoute[] =>
  routes.map((route) => ({ ...route, reason: 'admin' }));

/** Listeners of the stack that no rule of either file may send a request to, and why. */
const NEVER_UPSTREAM: Record<string, string> = {
  'hibp-service PORT': 'the leaked-password check answers user-service only',
  'auth-server ADMIN_PORT': "Hydra's admin API accepts logins and consents and introspects tokens",
  'broker HTTP_PORT': "the broker's admin API disconnects clients and empties its caches",
};

/** The rule files name their upstreams on 127.0.0.1 at the default ports of the stack's table. */
const STACK_LISTENERS = new Map(
  STACK.flatMap((service) =>
    service.listeners.map((listener) => [listener.port, `${service.name} ${listener.variable}`]),
  ),
);

function upstreamListener(rule: CompiledRule): string {
  const { hostname, port } = rule.upstream;
  const listener = ['127.0.0.1', 'localhost'].includes(hostname)
    ? STACK_LISTENERS.get(Number(port))
    : undefined;
  return listener ?? `not a stack listener: ${rule.upstream.host}`;
}

/** The methods a rule may list (`match.methods` of Oathkeeper's rule schema). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'TRACE', 'PATCH'];

/** Rules that match these paths by any method; one method at a time, so HEAD is probed too. */
const reachingAnyMethod = (rules: CompiledRule[], paths: string[]) =>
  METHODS.flatMap((method) => {
    const probes = paths.map((path) => ({ method, path }));
    return ruleCoverage(rules, probes, asInternal(probes)).exposed;
  });

let publicRules: CompiledRule[];
let adminRules: CompiledRule[];

beforeAll(async () => {
  const context = await handlerContext();
  publicRules = compileRules(readJson('oathkeeper-rules.json'), 'regexp', context, 'oathkeeper-rules.json');
  adminRules = compileRules(
    readJson('oathkeeper-admin-rules.json'),
    'regexp',
    context,
    'oathkeeper-admin-rules.json',
  );
});

describe('oathkeeper-rules.json against the planned API', () => {
  it('reaches every planned device-service route through exactly one rule', () => {
    expect(ruleCoverage(publicRules, PLANNED_PUBLIC, [])).toEqual(CLEAN);
  });

  it('exposes no admin route publicly, and the admin rules reach each one exactly once', () => {
    const admin = [...PLANNED_ADMIN, ...ADMIN_ROUTES];
    expect(ruleCoverage(publicRules, admin, asInternal(admin))).toEqual(CLEAN);
    expect(ruleCoverage(adminRules, admin, [])).toEqual(CLEAN);
  });

  it('protects every route but the login pages and public PKI with introspection, a scope and an id_token', () => {
    const open = publicRules
      .filter((rule) => rule.rule.authenticators.some((a) => a.handler !== 'oauth2_introspection'))
      .map((rule) => rule.rule.id);
    expect(open.sort()).toEqual([
      'cert-service:pki:enrolments',
      'cert-service:pki:public',
      'user-service:pages',
      'user-service:pages:static',
    ]);
    for (const rule of [...publicRules, ...adminRules].filter((r) => !open.includes(r.rule.id))) {
      expect(rule.rule.authenticators, rule.rule.id).toEqual([
        {
          handler: 'oauth2_introspection',
          config: { scope_strategy: 'exact', required_scope: [expect.any(String)] },
        },
      ]);
      expect(
        rule.rule.mutators.map((m) => m.handler),
        rule.rule.id,
      ).toEqual(['id_token']);
    }
  });
});

describe('what neither rule file reaches', () => {
  const bothFiles = () => [...publicRules, ...adminRules];

  it("sends no request to hibp-service, auth-server's admin API or the broker's admin API", () => {
    for (const listener of Object.keys(NEVER_UPSTREAM)) {
      expect([...STACK_LISTENERS.values()], 'a listener of the stack').toContain(listener);
    }
    const upstreams = bothFiles().map((rule) => ({ rule: rule.rule.id, listener: upstreamListener(rule) }));
    expect(upstreams.filter(({ listener }) => listener.startsWith('not a stack listener'))).toEqual([]);
    expect(upstreams.filter(({ listener }) => listener in NEVER_UPSTREAM)).toEqual([]);
  });

  it('forwards each request to the path it matched, so a service path is reached only by matching it', () => {
    const rewriting = bothFiles()
      .filter((rule) => rule.rule.upstream.strip_path || rule.upstream.pathname !== '/')
      .map((rule) => rule.rule.id);
    expect(rewriting).toEqual([]);
  });

  it("matches nothing under cert-service's /webhooks and /internal, by any method", () => {
    const paths = ['/webhooks', '/internal'].flatMap((prefix) =>
      ['', '/vernemq', '/v1', '/:id', '/v1/:id', '/v1/:id/*', '/*'].map((rest) => `${prefix}${rest}`),
    );
    expect(reachingAnyMethod(publicRules, paths)).toEqual([]);
    expect(reachingAnyMethod(adminRules, paths)).toEqual([]);
  });
});

describe('oathkeeper-rules.json against the running services', () => {
  const services: RunningService[] = [];
  const databases: TestDatabase[] = [];

  beforeAll(async () => {
    const starts = [
      ['users', startUserService, userServiceConfig],
      ['devices', startDeviceService, deviceServiceConfig],
      ['certs', startCertService, certServiceConfig],
    ] as const;
    await Promise.all(
      starts.map(async ([label, start, shape]) => {
        const database = await createTestDatabase(`gateway-${label}`);
        databases.push(database);
        services.push(await start(serviceTestEnv(database, { PORT: '0', ...requiredSecretsEnv(shape) })));
      }),
    );
  });

  afterAll(async () => {
    await Promise.all(services.map((service) => service.close()));
    await Promise.all(databases.map((database) => database.drop()));
  });

  it('reaches every route of user-service, device-service and cert-service through exactly one public rule, or keeps it internal', () => {
    const reports = Object.fromEntries(
      services.map((service) => [service.name, ruleCoverage(publicRules, service.routes ?? [], INTERNAL)]),
    );
    expect(reports).toEqual({ 'user-service': CLEAN, 'device-service': CLEAN, 'cert-service': CLEAN });
    for (const service of services) expect(service.routes?.length, service.name).toBeGreaterThan(0);
  });

  it("reaches none of cert-service's webhook and internal routes through either rule file, by any method", () => {
    const certService = services.find((service) => service.name === 'cert-service');
    const hidden = (certService?.routes ?? [])
      .map((route) => route.path)
      .filter((path) => /^\/(webhooks|internal)\//.test(path));
    expect(hidden).toContain('/webhooks/vernemq');
    expect(reachingAnyMethod(publicRules, hidden)).toEqual([]);
    expect(reachingAnyMethod(adminRules, hidden)).toEqual([]);
  });

  it('serves every admin route a service has through exactly one admin rule', () => {
    const all = services.flatMap((service) => service.routes ?? []);
    const admin = all.filter((route) =>
      ADMIN_ROUTES.some((a) => a.method === route.method && a.path === route.path),
    );
    // The services start side by side, so their routes come in the order they became ready.
    expect(admin).toHaveLength(ADMIN_ROUTES.length);
    expect(admin).toEqual(expect.arrayContaining(ADMIN_ROUTES));
    expect(ruleCoverage(adminRules, admin, [])).toEqual(CLEAN);
  });
});
