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

  it('serves every admin route a service has through exactly one admin rule', () => {
    const all = services.flatMap((service) => service.routes ?? []);
    const admin = all.filter((route) =>
      ADMIN_ROUTES.some((a) => a.method === route.method && a.path === route.path),
    );
    expect(admin).toEqual(ADMIN_ROUTES);
    expect(ruleCoverage(adminRules, admin, [])).toEqual(CLEAN);
  });
});
