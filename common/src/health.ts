export type HealthCheck = () => Promise<void>;

export interface HealthReport {
  status: 'ok' | 'unavailable';
  checks: Record<string, { status: 'up' | 'down'; error?: string }>;
}

/**
 * Readiness is the conjunction of named checks (database reachable, filter loaded, …). Liveness
 * needs no check: a process that can answer is alive.
 */
export class HealthChecks {
  private readonly checks = new Map<string, HealthCheck>();

  add(name: string, check: HealthCheck): this {
    this.checks.set(name, check);
    return this;
  }

  async report(): Promise<HealthReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          await check();
          return [name, { status: 'up' as const }] as const;
        } catch (err) {
          // The reason is for operators on the internal network; it never carries a secret because
          // checks throw their own messages, not driver errors with connection strings.
          return [
            name,
            { status: 'down' as const, error: err instanceof Error ? err.message : String(err) },
          ] as const;
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    const status = entries.every(([, r]) => r.status === 'up') ? 'ok' : 'unavailable';
    return { status, checks };
  }
}
