import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { laterPort } from '@spincycle/common/testing';
import { describe, expect, it } from 'vitest';
import { APP_CLIENT } from '../src/app-client/app-client.js';
import { overrideVariable, STACK } from '../src/stack/services.js';

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface StackFile {
  services: { name: string; pid: number; health: string; urls: { url: string }[] }[];
}

describe('npm start (the embedded stack)', () => {
  it('starts every service healthy, reports them, and leaves nothing behind after SIGINT', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'spincycle-stack-'));
    // Other test files run beside this one on a small machine: allow a slow start, not a failed one.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SPINCYCLE_DATA_DIR: dataDir,
      SPINCYCLE_READY_TIMEOUT_MS: '180000',
      LOG_LEVEL: 'warn',
      // A shell's PORT is the launcher's business: the services that refuse PORT must still start.
      PORT: 'abc',
    };
    delete env.DATABASE_URL;
    const ports: number[] = [];
    for (const service of STACK) {
      for (const listener of service.listeners) {
        const port = await laterPort();
        ports.push(port);
        env[overrideVariable(service.name, listener.variable)] = String(port);
      }
    }
    const launcher = spawn(process.execPath, ['tools/dist/stack/main.js'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    launcher.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    launcher.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(launcher, 'exit') as Promise<[number | null, string | null]>;
    try {
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          if (output.includes('Ctrl-C stops everything')) resolve();
        };
        launcher.stdout.on('data', check);
        void exited.then(() => reject(new Error(`launcher exited early:\n${output}`)));
      });

      for (const service of STACK) expect(output).toMatch(new RegExp(`${service.name}\\s+.*healthy`));
      const status = JSON.parse(await readFile(join(dataDir, 'stack.json'), 'utf8')) as StackFile;
      expect(status.services.map((s) => s.name).sort()).toEqual(STACK.map((s) => s.name).sort());
      expect(status.services.every((s) => s.health === 'healthy')).toBe(true);
      for (const port of ports) expect(await isListening(port)).toBe(true);
      // The app can sign in: its OAuth2 client was registered before the stack said it was up.
      expect(output).toContain(`OAuth2 client ${APP_CLIENT.client_id} (the mobile app): created`);
      const authAdmin = env[overrideVariable('auth-server', 'ADMIN_PORT')];
      const client = await fetch(`http://127.0.0.1:${authAdmin}/admin/clients/${APP_CLIENT.client_id}`);
      expect(await client.json()).toMatchObject({
        scope: APP_CLIENT.scope,
        token_endpoint_auth_method: 'none',
      });

      launcher.kill('SIGINT');
      const [code] = await exited;
      expect(code).toBe(0);
      for (const s of status.services) expect(isRunning(s.pid)).toBe(false);
      for (const port of ports) expect(await isListening(port)).toBe(false);
    } finally {
      if (launcher.exitCode === null) launcher.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 300_000);
});
