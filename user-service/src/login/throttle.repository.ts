import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { lockoutSeconds, type LockoutPolicy } from '@spincycle/common';

// A run of failures older than this is forgotten: the counter restarts.
const FAILURE_MEMORY = '1 day';

export interface ThrottledKey {
  key: string;
  policy: LockoutPolicy;
}

export interface Reserved {
  outcome: 'reserved';
  /** Per key, the lock this attempt set, in the database's text form (exact to the microsecond). */
  locksSet: Map<string, string>;
}

export type Reservation = Reserved | { outcome: 'locked'; until: Date };

interface ThrottleRow {
  failures: number;
  /** The end of the lock, while one runs. */
  running: Date | null;
  stale: boolean;
}

@Injectable()
export class ThrottleRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Counts an attempt as a failure before it is made, unless a key is locked. Checking the lock and
   * recording the failure only after a password was verified lets every guess that arrives while
   * others are in bcrypt pass the check, so each lockout window would admit a burst of parallel
   * guesses. Here the keys' rows stay locked from the check to the count, in every replica's
   * transaction alike, so the n-th concurrent attempt sees the n-1 before it.
   */
  async reserve(keys: ThrottledKey[]): Promise<Reservation> {
    // One order for every transaction, so two attempts sharing keys cannot deadlock.
    const ordered = [...keys].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return this.dataSource.transaction(async (manager) => {
      const rows = new Map<string, ThrottleRow>();
      for (const { key } of ordered) rows.set(key, await lockRow(manager, key));
      const running = [...rows.values()].flatMap((row) => (row.running ? [row.running.getTime()] : []));
      if (running.length > 0) return { outcome: 'locked', until: new Date(Math.max(...running)) };
      const locksSet = new Map<string, string>();
      for (const { key, policy } of ordered) {
        const row = rows.get(key) as ThrottleRow;
        const failures = row.stale ? 1 : row.failures + 1;
        const seconds = lockoutSeconds(failures, policy);
        // TypeORM answers UPDATE on PostgreSQL with [rows, affected count].
        const [updated]: [{ lock_set: string | null }[], number] = await manager.query(
          `UPDATE login_throttle SET failures = $2, last_failure_at = now(),
             locked_until = coalesce(now() + make_interval(secs => $3::int), locked_until)
           WHERE key = $1
           RETURNING CASE WHEN $3::int IS NOT NULL THEN locked_until::text END AS lock_set`,
          [key, failures, seconds > 0 ? seconds : null],
        );
        const lockSet = updated[0]?.lock_set;
        if (lockSet) locksSet.set(key, lockSet);
      }
      return { outcome: 'reserved', locksSet };
    });
  }

  /**
   * Hands back an attempt that turned out to be no failure: one failure less, and the lock it set
   * lifted. A lock set since by another attempt stays.
   */
  async refund(key: string, reservation: Reserved): Promise<void> {
    await this.dataSource.query(
      `UPDATE login_throttle SET failures = greatest(failures - 1, 0),
         locked_until = CASE WHEN locked_until = $2::timestamptz THEN NULL ELSE locked_until END
       WHERE key = $1`,
      [key, reservation.locksSet.get(key) ?? null],
    );
  }

  async clear(key: string): Promise<void> {
    await this.dataSource.query('DELETE FROM login_throttle WHERE key = $1', [key]);
  }
}

/** The key's row, made if missing, locked until the transaction ends. */
async function lockRow(manager: EntityManager, key: string): Promise<ThrottleRow> {
  await manager.query(
    `INSERT INTO login_throttle (key, failures, last_failure_at) VALUES ($1, 0, now())
     ON CONFLICT (key) DO NOTHING`,
    [key],
  );
  const rows: ThrottleRow[] = await manager.query(
    `SELECT failures, CASE WHEN locked_until > now() THEN locked_until END AS running,
            last_failure_at < now() - interval '${FAILURE_MEMORY}' AS stale
     FROM login_throttle WHERE key = $1 FOR UPDATE`,
    [key],
  );
  return rows[0] as ThrottleRow;
}
