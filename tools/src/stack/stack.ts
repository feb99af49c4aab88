import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SERVICE_CONFIGS } from '../config-docs/generate.js';
import { createLogger } from '@spincycle/common';
import { loadServerIdentity } from '@spincycle/broker/server-identity';
import { StackSecrets } from './secrets.js';
import { resolvePorts, STACK, overrideVariable, type PortMap, type StackService } from './services.js';

export interface StackOptions {
  root: string;
  env: NodeJS.ProcessEnv;
  dataDir: string;
  /** How long every service has to become ready. */
  readyTimeoutMs: number;
  out: (line: string) => void;
}

export interface ServiceStatus {
  name: string;
  pid: number | undefined;
  health: 'starting' | 'healthy' | 'unhealthy' | 'exited';
  healthUrl: string;
  urls: { role: string; url: string }[];
  log: string;
}

interface Running {
  service: StackService;
  child: ChildProcess;
  status: ServiceStatus;
  exited: Promise<void>;
  /** Whether the service's onReady step has run. */
  prepared: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Variables a child must not inherit: a stack-wide DATABASE_URL would make every service share one
 * database, and a PORT would stop the services whose ports have other names (they refuse it).
 */
const NOT_INHERITED = ['DATABASE_URL', 'PORT', 'DATA_DIR'];

export class Stack {
  private readonly running: Running[] = [];
  private stopping = false;
  private readonly ports: PortMap;
  private readonly secrets: StackSecrets;

  constructor(private readonly options: StackOptions) {
    this.ports = resolvePorts(options.env);
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    this.secrets = StackSecrets.open(options.dataDir);
  }

  get statusFile(): string {
    return join(this.options.dataDir, 'stack.json');
  }

  /** Starts every service and resolves once all are ready; rejects (after stopping them) otherwise. */
  async start(onUnexpectedExit: (status: ServiceStatus, logTail: string) => void): Promise<ServiceStatus[]> {
    const logs = join(this.options.dataDir, 'logs');
    mkdirSync(logs, { recursive: true });
    // Made before any service starts, so that clients of the broker can be told what to trust.
    await prepareBrokerIdentity(this.options.dataDir);
    const deadline = Date.now() + this.options.readyTimeoutMs;
    while (Date.now() < deadline && !this.stopping) {
      // A service starts once everything it calls at start-up is ready.
      const healthy = new Set(
        this.running.filter((r) => r.status.health === 'healthy').map((r) => r.service.name),
      );
      for (const service of STACK) {
        const started = this.running.some((r) => r.service === service);
        if (!started && (service.after ?? []).every((name) => healthy.has(name))) {
          this.running.push(this.spawn(service, logs, onUnexpectedExit));
        }
      }
      this.secrets.save();
      await Promise.all(this.running.map((r) => this.probe(r)));
      await this.prepareReady();
      this.writeStatus();
      if (
        this.running.length === STACK.length &&
        this.running.every((r) => r.status.health === 'healthy' && r.prepared)
      ) {
        return this.statuses();
      }
      if (this.running.some((r) => r.status.health === 'exited')) break;
      await sleep(250);
    }
    const statuses = this.statuses();
    await this.stop();
    const bad = statuses
      .filter((s) => s.health !== 'healthy')
      .map((s) => `${s.name} (${s.health}, log: ${s.log})`);
    throw new Error(`not every service became ready: ${bad.join(', ')}`);
  }

  statuses(): ServiceStatus[] {
    return this.running.map((r) => ({ ...r.status }));
  }

  /** SIGTERM to every child, SIGKILL to any still running after the grace period. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    for (const r of this.running)
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
    const all = Promise.all(this.running.map((r) => r.exited));
    const timedOut = await Promise.race([all.then(() => false), sleep(graceMs).then(() => true)]);
    if (timedOut) {
      for (const r of this.running) {
        if (r.child.exitCode === null && r.child.signalCode === null) {
          this.options.out(`${r.service.name} did not stop within ${graceMs} ms; killing it`);
          r.child.kill('SIGKILL');
        }
      }
      await all;
    }
    rmSync(this.statusFile, { force: true });
  }

  /** Runs each newly ready service's onReady step; a failing step stops the stack. */
  private async prepareReady(): Promise<void> {
    for (const r of this.running) {
      if (r.prepared || r.status.health !== 'healthy') continue;
      try {
        const done = await r.service.onReady?.(this.ports);
        if (done) this.options.out(done);
      } catch (err) {
        await this.stop();
        throw new Error(`${r.service.name} is ready but could not be prepared: ${(err as Error).message}`);
      }
      r.prepared = true;
    }
  }

  private spawn(
    service: StackService,
    logs: string,
    onUnexpectedExit: (status: ServiceStatus, logTail: string) => void,
  ): Running {
    const own = this.ports[service.name] ?? {};
    const env: NodeJS.ProcessEnv = { ...this.options.env };
    for (const name of NOT_INHERITED) delete env[name];
    const links = service.links?.(this.ports, this.secrets, this.options.dataDir) ?? {};
    Object.assign(env, links, this.secrets.requiredBy(service.name, SERVICE_CONFIGS[service.name], links), {
      DATA_DIR: this.options.dataDir,
      HOST: '127.0.0.1',
    });
    for (const [variable, port] of Object.entries(own)) env[variable] = String(port);
    const databaseUrl = this.options.env[overrideVariable(service.name, 'DATABASE_URL')];
    if (databaseUrl) env.DATABASE_URL = databaseUrl;

    const log = join(logs, `${service.name}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(process.execPath, [resolve(this.options.root, service.entry)], {
      cwd: this.options.root,
      env,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    const opsListener = service.listeners.find((l) => l.ops) ?? service.listeners[0];
    const status: ServiceStatus = {
      name: service.name,
      pid: child.pid,
      health: 'starting',
      healthUrl: `http://127.0.0.1:${own[opsListener?.variable ?? ''] ?? 0}/health/ready`,
      urls: service.listeners.map((l) => ({
        role: l.role,
        url: `${l.scheme}://127.0.0.1:${own[l.variable]}`,
      })),
      log,
    };
    const exited = new Promise<void>((done) => {
      child.on('exit', (code, signal) => {
        status.health = 'exited';
        if (!this.stopping)
          onUnexpectedExit({ ...status }, tail(log, 20) + `\n(exit code ${code ?? signal})`);
        done();
      });
      child.on('error', () => done());
    });
    return { service, child, status, exited, prepared: false };
  }

  private async probe(r: Running): Promise<void> {
    if (r.status.health === 'exited') return;
    try {
      const res = await fetch(r.status.healthUrl, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      r.status.health = res.ok ? 'healthy' : 'unhealthy';
    } catch {
      r.status.health = r.status.health === 'healthy' ? 'unhealthy' : r.status.health;
    }
  }

  writeStatus(): void {
    writeFileSync(
      this.statusFile,
      JSON.stringify({ updatedAt: new Date().toISOString(), services: this.statuses() }, null, 2) + '\n',
    );
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export function formatTable(statuses: ServiceStatus[]): string {
  const rows: string[][] = [['SERVICE', 'ROLE', 'URL', 'HEALTH']];
  for (const s of statuses) {
    s.urls.forEach((u, i) => rows.push([i === 0 ? s.name : '', u.role, u.url, i === 0 ? s.health : '']));
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The broker's development server certificate, made now if this is the first start. */
async function prepareBrokerIdentity(dataDir: string): Promise<void> {
  const logger = createLogger({ service: 'stack', level: 'silent' });
  await loadServerIdentity({ certFile: undefined, keyFile: undefined, dataDir, logger });
}
