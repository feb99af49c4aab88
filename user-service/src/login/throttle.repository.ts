import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { lockoutSeconds, type LockoutPolicy } from '@spincycle/common';

// A run of failures older than this is forgotten: the counter restarts.
const FAILURE_MEMORY = '1 day';

@Injectable()
export class ThrottleRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The latest lock among the keys that is still running, if any. */
  async lockedUntil(keys: string[]): Promise<Date | undefined> {
    const rows: { until: Date | null }[] = await this.dataSource.query(
      'SELECT max(locked_until) AS until FROM login_throttle WHERE key = ANY($1) AND locked_until > now()',
      [keys],
    );
    return rows[0]?.until ?? undefined;
  }

  async recordFailure(key: string, policy: LockoutPolicy): Promise<void> {
    const rows: { failures: number }[] = await this.dataSource.query(
      `INSERT INTO login_throttle (key, failures, last_failure_at) VALUES ($1, 1, now())
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN login_throttle.last_failure_at < now() - interval '${FAILURE_MEMORY}'
                         THEN 1 ELSE login_throttle.failures + 1 END,
         last_failure_at = now()
       RETURNING failures`,
      [key],
    );
    const seconds = lockoutSeconds(rows[0]?.failures ?? 1, policy);
    if (seconds > 0) {
      await this.dataSource.query(
        `UPDATE login_throttle SET locked_until = now() + make_interval(secs => $2) WHERE key = $1`,
        [key, seconds],
      );
    }
  }

  async clear(key: string): Promise<void> {
    await this.dataSource.query('DELETE FROM login_throttle WHERE key = $1', [key]);
  }
}
