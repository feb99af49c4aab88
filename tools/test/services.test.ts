import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import {
  createTestDatabase,
  requiredSecretsEnv,
  serviceTestEnv,
  type TestDatabase,
} from '@spincycle/common/testing';
import type { RunningService } from '@spincycle/common';
import { start as startAuthServer } from '@spincycle/auth-server';
import { start as startBroker } from '@spincycle/broker';
import { start as startCertService } from '@spincycle/cert-service';
import { start as startDeviceService } from '@spincycle/device-service';
import { start as startGateway } from '@spincycle/gateway';
import { start as startHibpService } from '@spincycle/hibp-service';
import { start as startUserService } from '@spincycle/user-service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_CONFIGS } from '../src/config-docs/generate.js';
import { STACK } from '../src/stack/services.js';

/**
 * Every part of the stack, started for real on random ports: the foundation's promises (health,
 * readiness against the database, metrics, clean errors, clean shutdown) hold for each.
 */
interface Case {
  name: string;
  start: (env: NodeJS.ProcessEnv) => Promise<RunningService>;
  /** Whether readiness includes the service's own database. */
  database: boolean;
  /**
   * Services it needs running first: the broker and device-service's firmware downloads read the
   * device CA from cert-service.
   */
  needs?: (env: NodeJS.ProcessEnv) => Promise<{ env: Record<string, string>; close(): Promise<void> }>;
}

/** A real cert-service to read the device CA and CRL from and send the broker's webhooks to. */
async function realCertService(): Promise<{ env: Record<string, string>; close(): Promise<void> }> {
  const db = await createTestDatabase('cert-for-broker');
  const certService = await startCertService(
    serviceTestEnv(db, { PORT: '0', ...requiredSecretsEnv(SERVICE_CONFIGS['cert-service']!) }),
  );
  return {
    env: {
      DEVICE_CA_URL: `${certService.url}/v1/pki/ca`,
      DEVICE_CRL_URL: `${certService.url}/v1/pki/crl.pem`,
      WEBHOOK_URL: `${certService.url}/webhooks/vernemq`,
      CERT_SERVICE_URL: certService.url,
    },
    async close() {
      await certService.close();
      await db.drop();
    },
  };
}

const cases: Case[] = [
  { name: 'user-service', start: startUserService, database: true },
  { name: 'device-service', start: startDeviceService, database: true, needs: realCertService },
  { name: 'cert-service', start: startCertService, database: true },
  { name: 'auth-server', start: startAuthServer, database: true },
  { name: 'hibp-service', start: startHibpService, database: false },
  { name: 'gateway', start: startGateway, database: false },
  { name: 'broker', start: startBroker, database: false, needs: realCertService },
];

/** Every listener of the service on a random port. */
function portsEnv(name: string): Record<string, string> {
  const service = STACK.find((s) => s.name === name);
  return Object.fromEntries((service?.listeners ?? []).map((l) => [l.variable, '0']));
}

/** The environment a service needs beyond ports and database: its secrets. */
function secretsEnv(name: string): Record<string, string> {
  const shape = SERVICE_CONFIGS[name];
  return shape ? requiredSecretsEnv(shape) : {};
}

describe.each(cases)('$name', ({ name, start, database, needs }) => {
  let db: TestDatabase;
  let service: RunningService;
  let dependency: Awaited<ReturnType<NonNullable<Case['needs']>>> | undefined;

  beforeAll(async () => {
    db = await createTestDatabase(name);
    dependency = await needs?.({});
    service = await start(serviceTestEnv(db, { ...portsEnv(name), ...secretsEnv(name), ...dependency?.env }));
  });

  afterAll(async () => {
    await service?.close();
    await dependency?.close();
    await db?.drop();
  });

  it('is live', async () => {
    const res = await fetch(`${service.url}/health/live`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it(database ? 'is ready when its database answers' : 'is ready', async () => {
    const res = await fetch(`${service.url}/health`);
    const body = (await res.json()) as { status: string; checks: Record<string, { status: string }> };
    expect(res.status).toBe(200);
    expect(body.status).toBe('ok');
    if (database) expect(body.checks.database).toEqual({ status: 'up' });
    expect((await fetch(`${service.url}/health/ready`)).status).toBe(200);
  });

  it('exposes Prometheus metrics, including request durations', async () => {
    await fetch(`${service.url}/health/live`);
    const res = await fetch(`${service.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(
      new RegExp(`http_request_duration_seconds_count\\{[^}]*service="${name}"[^}]*\\} \\d+`),
    );
    expect(text).toContain('process_cpu_seconds_total');
  });

  it('answers an unknown path with a JSON 404 and no stack trace', async () => {
    const res = await fetch(`${service.url}/no/such/path`);
    expect(res.status).toBe(404);
    const text = await res.text();
    expect(() => JSON.parse(text)).not.toThrow();
    expect(text).not.toMatch(/\bat .+\.(ts|js):\d+/);
  });
});

describe('main entry points', () => {
  const run = promisify(execFile);

  /**
   * Runs the service's entry point with its secrets and `env` only, and reports how it ended. A
   * service that starts anyway is stopped after a while, so the test fails instead of hanging.
   */
  const startWith = (name: string, env: Record<string, string>) =>
    run(process.execPath, [`${name}/dist/main.js`], {
      env: { PATH: process.env.PATH, ...secretsEnv(name), ...env },
      timeout: 30_000,
    }).then(
      () => ({ code: 0 as number | null, stderr: '' }),
      (err: { code: number | null; stderr: string }) => err,
    );

  it.each(cases.map((c) => c.name))('%s exits 1 with one line naming a bad port variable', async (name) => {
    const variable = STACK.find((s) => s.name === name)?.listeners[0]?.variable ?? 'PORT';
    const result = await startWith(name, { [variable]: 'abc' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      `${name}: invalid configuration: ${variable} is invalid: expected a TCP port, an integer from 0 to 65535`,
    ]);
  });

  it.each(cases.map((c) => c.name))(
    '%s started with PORT=abc exits 1 with one line naming PORT, and the variables of its ports where PORT is not one',
    async (name) => {
      const result = await startWith(name, { PORT: 'abc' });
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^${name}: invalid configuration: PORT `));
      const variables = STACK.find((s) => s.name === name)?.listeners.map((l) => l.variable) ?? [];
      if (!variables.includes('PORT')) for (const variable of variables) expect(lines[0]).toContain(variable);
    },
  );

  it.each(cases.map((c) => c.name))('%s drains and exits 0 on SIGTERM', async (name) => {
    const db = await createTestDatabase(name);
    const dependency = await cases.find((c) => c.name === name)?.needs?.({});
    const env = serviceTestEnv(db, {
      ...portsEnv(name),
      ...secretsEnv(name),
      ...dependency?.env,
      LOG_LEVEL: 'info',
      PATH: process.env.PATH ?? '',
    });
    const child = spawn(process.execPath, [`${name}/dist/main.js`], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let log = '';
      const ready = new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          log += chunk.toString();
          const url = /"url":"([^"]+)","msg":"[^"]+ ready"/.exec(log)?.[1];
          if (url) resolve(url);
        });
        child.once('exit', () => reject(new Error(`exited before ready:\n${log}`)));
      });
      const url = await ready;
      expect((await fetch(`${url}/health/ready`)).status).toBe(200);
      const exited = once(child, 'exit') as Promise<[number | null]>;
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
      expect(log).toContain('"msg":"stopped"');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await dependency?.close();
      await db.drop();
    }
  });
});
