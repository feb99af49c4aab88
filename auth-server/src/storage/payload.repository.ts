import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { DataSource } from 'typeorm';

interface PayloadRow {
  payload: AdapterPayload;
  consumed: boolean;
}

/** The only code that reads and writes oidc-provider's state. */
export class PayloadRepository {
  constructor(private readonly dataSource: DataSource) {}

  async upsert(
    kind: string,
    id: string,
    payload: AdapterPayload,
    expiresIn: number | undefined,
  ): Promise<void> {
    const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
    await this.dataSource.query(
      `INSERT INTO oidc_payloads (kind, id, payload, grant_id, user_code, uid, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (kind, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
         user_code = EXCLUDED.user_code, uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`,
      [
        kind,
        id,
        JSON.stringify(payload),
        payload.grantId ?? null,
        payload.userCode ?? null,
        payload.uid ?? null,
        expiresAt,
      ],
    );
  }

  find(kind: string, id: string): Promise<AdapterPayload | undefined> {
    return this.findWhere(kind, 'id', id);
  }

  findByUid(kind: string, uid: string): Promise<AdapterPayload | undefined> {
    return this.findWhere(kind, 'uid', uid);
  }

  findByUserCode(kind: string, userCode: string): Promise<AdapterPayload | undefined> {
    return this.findWhere(kind, 'user_code', userCode);
  }

  async consume(kind: string, id: string): Promise<void> {
    await this.dataSource.query(
      'UPDATE oidc_payloads SET consumed_at = now() WHERE kind = $1 AND id = $2 AND consumed_at IS NULL',
      [kind, id],
    );
  }

  async destroy(kind: string, id: string): Promise<void> {
    await this.dataSource.query('DELETE FROM oidc_payloads WHERE kind = $1 AND id = $2', [kind, id]);
  }

  async revokeByGrantId(kind: string, grantId: string): Promise<void> {
    await this.dataSource.query('DELETE FROM oidc_payloads WHERE kind = $1 AND grant_id = $2', [
      kind,
      grantId,
    ]);
  }

  /** Ends a grant and everything issued under it (codes, access and refresh tokens, session data). */
  async revokeGrant(grantId: string): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM oidc_payloads WHERE grant_id = $1 OR (kind IN ('Grant', 'GrantSession') AND id = $1)`,
      [grantId],
    );
  }

  /** Grants of a subject, optionally for one client only. */
  async grantIdsOf(subject: string, clientId?: string): Promise<string[]> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM oidc_payloads WHERE kind = 'Grant' AND payload->>'accountId' = $1
         AND ($2::text IS NULL OR payload->>'clientId' = $2)`,
      [subject, clientId ?? null],
    );
    return rows.map((r) => r.id);
  }

  async deleteSessionsOf(subject: string): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM oidc_payloads WHERE kind = 'Session' AND payload->>'accountId' = $1`,
      [subject],
    );
  }

  /** Rows past their expiry are dead to `find` already; this only reclaims the space. */
  async deleteExpired(): Promise<number> {
    // TypeORM answers DELETE on PostgreSQL with [rows, affected count].
    const [, deleted]: [unknown[], number] = await this.dataSource.query(
      'DELETE FROM oidc_payloads WHERE expires_at < now()',
    );
    return deleted;
  }

  private async findWhere(
    kind: string,
    column: 'id' | 'uid' | 'user_code',
    value: string,
  ): Promise<AdapterPayload | undefined> {
    const rows: { payload: AdapterPayload; consumed: boolean }[] = await this.dataSource.query(
      `SELECT payload, consumed_at IS NOT NULL AS consumed FROM oidc_payloads
       WHERE kind = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now())`,
      [kind, value],
    );
    const row: PayloadRow | undefined = rows[0];
    if (!row) return undefined;
    return row.consumed ? { ...row.payload, consumed: true } : row.payload;
  }
}

/** oidc-provider's storage contract, one instance per model name, over the repository. */
export function adapterFactory(repository: PayloadRepository): (name: string) => Adapter {
  return (kind) => ({
    upsert: (id, payload, expiresIn) => repository.upsert(kind, id, payload, expiresIn),
    find: (id) => repository.find(kind, id),
    findByUid: (uid) => repository.findByUid(kind, uid),
    findByUserCode: (userCode) => repository.findByUserCode(kind, userCode),
    consume: (id) => repository.consume(kind, id),
    destroy: (id) => repository.destroy(kind, id),
    revokeByGrantId: (grantId) => repository.revokeByGrantId(kind, grantId),
  });
}
