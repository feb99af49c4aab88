import type { Logger } from './logger.js';
import type { ErrorReporter } from './sentry.js';

export interface ShutdownStep {
  name: string;
  run(): Promise<void>;
}

export interface ShutdownOptions {
  logger: Logger;
  timeoutMs: number;
  reporter?: ErrorReporter;
  /** Replaced in tests; a real process ends here. */
  exit?: (code: number) => void;
}

/**
 * Runs the steps in order (drain HTTP first, then close the database) on SIGINT or SIGTERM and
 * exits 0. A terminal Ctrl-C reaches every process of the group, and supervisors may repeat a
 * signal, so a second signal while shutting down is ignored rather than cutting the drain short.
 * A shutdown that outlives its timeout exits 1 so the supervisor sees the failure.
 */
export class Shutdown {
  private readonly steps: ShutdownStep[] = [];
  private running: Promise<void> | undefined;
  private readonly exit: (code: number) => void;

  constructor(private readonly options: ShutdownOptions) {
    this.exit = options.exit ?? ((code) => process.exit(code));
  }

  add(name: string, run: () => Promise<void>): this {
    this.steps.push({ name, run });
    return this;
  }

  listen(): this {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => void this.run(signal));
    }
    process.on('uncaughtException', (err) => this.fatal('uncaught exception', err));
    process.on('unhandledRejection', (err) => this.fatal('unhandled promise rejection', err));
    return this;
  }

  run(reason: string): Promise<void> {
    this.running ??= this.perform(reason, false);
    return this.running;
  }

  private async perform(reason: string, failed: boolean): Promise<void> {
    const { logger, timeoutMs } = this.options;
    logger.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out');
      this.exit(1);
    }, timeoutMs);
    timer.unref();
    let code = failed ? 1 : 0;
    for (const step of this.steps) {
      try {
        await step.run();
        logger.debug({ step: step.name }, 'shutdown step done');
      } catch (err) {
        code = 1;
        logger.error({ err, step: step.name }, 'shutdown step failed');
      }
    }
    await this.options.reporter?.flush(2000);
    clearTimeout(timer);
    logger.info({ code }, 'stopped');
    this.exit(code);
  }

  private fatal(what: string, err: unknown): void {
    this.options.logger.fatal({ err }, what);
    this.options.reporter?.capture(err);
    this.running ??= this.perform(what, true);
  }
}
