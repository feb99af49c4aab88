import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

export type AttemptSubject = { kind: 'device' | 'user'; id: string };

/** The only code that reads or writes wrong-claim-code counters and the lockouts they earned. */
@Injectable()
export class ClaimAttemptsRepository {
  constructor(private readonly db: DataSource) {}

  /** The latest lockout among these subjects that still holds at `now`, if any. */
  async lockedUntil(subjects: readonly AttemptSubject[], now: Date): Promise<Date | null> {
    const rows: { locked_until: Date | null }[] = await this.db.query(
      `SELECT max(a.locked_until) AS locked_until
       FROM claim_attempts a JOIN jsonb_to_recordset($1::jsonb) AS s(kind text, id text)
         ON a.subject_kind = s.kind AND a.subject_id = s.id
       WHERE a.locked_until > $2`,
      [JSON.stringify(subjects), now],
    );
    return rows[0]?.locked_until ?? null;
  }

  /**
   * Counts one more wrong code against the subject and sets the lockout the new count earns.
   * One statement, so concurrent guesses cannot lose a count.
   */
  async recordFailure(
    subject: AttemptSubject,
    now: Date,
    lockout: (failures: number) => number,
  ): Promise<number> {
    const rows: { failures: number }[] = await this.db.query(
      `INSERT INTO claim_attempts (subject_kind, subject_id, failures, last_failure_at)
       VALUES ($1, $2, 1, $3)
       ON CONFLICT (subject_kind, subject_id)
       DO UPDATE SET failures = claim_attempts.failures + 1, last_failure_at = EXCLUDED.last_failure_at
       RETURNING failures`,
      [subject.kind, subject.id, now],
    );
    const failures = rows[0]?.failures ?? 1;
    const seconds = lockout(failures);
    if (seconds > 0) {
      await this.db.query(
        'UPDATE claim_attempts SET locked_until = $3 WHERE subject_kind = $1 AND subject_id = $2',
        [subject.kind, subject.id, new Date(now.getTime() + seconds * 1000)],
      );
    }
    return failures;
  }

  async clear(subjects: readonly AttemptSubject[], manager: EntityManager): Promise<void> {
    await manager.query(
      `DELETE FROM claim_attempts a USING jsonb_to_recordset($1::jsonb) AS s(kind text, id text)
       WHERE a.subject_kind = s.kind AND a.subject_id = s.id`,
      [JSON.stringify(subjects)],
    );
  }
}
