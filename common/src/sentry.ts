import type { Logger } from './logger.js';

export interface SentryOptions {
  dsn: string | undefined;
  service: string;
  environment?: string;
  release?: string;
}

export interface ErrorReporter {
  capture(error: unknown): void;
  flush(timeoutMs: number): Promise<void>;
}

const silent: ErrorReporter = { capture: () => undefined, flush: async () => undefined };

/**
 * Loads and starts @sentry/node only when a DSN is configured: without one the SDK is never
 * imported, so it instruments nothing and sends nothing.
 */
export async function initErrorReporting(options: SentryOptions, logger: Logger): Promise<ErrorReporter> {
  if (!options.dsn) return silent;
  const Sentry = await import('@sentry/node');
  Sentry.init({
    dsn: options.dsn,
    environment: options.environment ?? 'production',
    ...(options.release ? { release: options.release } : {}),
    serverName: options.service,
    // Request bodies, cookies and user IPs may hold credentials or personal data.
    sendDefaultPii: false,
    beforeSend(event) {
      if (event.request) {
        delete event.request.cookies;
        delete event.request.data;
        if (event.request.headers) {
          for (const h of Object.keys(event.request.headers)) {
            if (/authorization|cookie|token|secret/i.test(h)) delete event.request.headers[h];
          }
        }
      }
      return event;
    },
  });
  logger.info('error reporting to Sentry enabled');
  return {
    capture: (error) => void Sentry.captureException(error),
    flush: async (timeoutMs) => void (await Sentry.flush(timeoutMs)),
  };
}
