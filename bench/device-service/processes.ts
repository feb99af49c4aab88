import { cpuSeconds } from '../support/process.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

/** Services still running: a bench stopped by a signal ends them rather than leave them behind. */
const running = new Set<ChildProcess>();
// A signal sent to the bench alone (kill, a CI timeout) skips its `finally`; 'exit' still runs.
process.once('exit', () => {
  for (const child of running) child.kill('SIGTERM');
});
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

/** One service of the stack in its own Node process, as `npm start` runs it. */
export class ServiceProcess {
  private output = '';
  private readonly waiters: { pattern: RegExp; resolve: () => void }[] = [];
  readonly exited: Promise<number | null>;
  readonly name: string;
  readonly child: ChildProcess;

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    const onData = (chunk: Buffer) => {
      // Only the tail is kept: enough to say why a service stopped, not a log of the run.
      this.output = (this.output + chunk.toString()).slice(-20_000);
      for (const waiter of [...this.waiters]) {
        if (!waiter.pattern.test(this.output)) continue;
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    running.add(child);
    this.exited = once(child, 'exit').then(([code]) => {
      running.delete(child);
      return code as number | null;
    });
  }

  /** `execArgv` such as `--cpu-prof`; the environment is the service's whole configuration. */
  static start(
    name: string,
    entry: string,
    env: Record<string, string>,
    options: { execArgv?: string[]; logFile?: string | undefined } = {},
  ) {
    const child = spawn(process.execPath, [...(options.execArgv ?? []), entry], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (options.logFile) {
      const log = createWriteStream(options.logFile);
      child.stdout?.pipe(log);
      child.stderr?.pipe(log);
    }
    return new ServiceProcess(name, child);
  }

  /** Resolves once the service has logged a line matching `pattern`; fails if it exits first. */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<void> {
    if (pattern.test(this.output)) return;
    let timer: NodeJS.Timeout | undefined;
    const seen = new Promise<void>((resolve) => this.waiters.push({ pattern, resolve }));
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.name}: no ${pattern} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      void this.exited.then((code) =>
        reject(new Error(`${this.name} exited with ${code}:\n${this.output.slice(-3000)}`)),
      );
    });
    try {
      await Promise.race([seen, failed]);
    } finally {
      clearTimeout(timer);
    }
  }

  cpuSeconds(): number {
    return cpuSeconds(this.child.pid) ?? 0;
  }

  /** SIGTERM, as an orchestrator stops it: the service drains, and a CPU profile is written. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await this.exited;
  }
}
