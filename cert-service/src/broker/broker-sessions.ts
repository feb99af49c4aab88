import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Logger } from '@spincycle/common';
import { LOGGER } from '@spincycle/common/nest';
import { DataSource } from 'typeorm';
import type { CertServiceConfig } from '../config.js';
import { CERT_CONFIG } from '../tokens.js';

export interface SessionSelector {
  usernames?: string[];
  clientIds?: string[];
}

/**
 * Tells the broker when access ends, so that live sessions lose it at once rather than at their
 * next connect: a revoked certificate makes it re-read the CRL (which drops sessions using the
 * serial), a lost ownership or grant makes it forget cached answers and disconnect the users
 * concerned (their apps reconnect, and every subscription is authorized again). This is the
 * broker's admin API (docs/broker.md). VerneMQ has no such API; there the CRL file and the short
 * decision lifetime bound the delay instead.
 *
 * Calls are not awaited by the writes that cause them: a broker that is down must not fail a
 * fact change, and the CRL refresh on the broker's timer remains the backstop.
 */
@Injectable()
export class BrokerSessions implements OnModuleInit, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private checkedUntil = new Date();

  constructor(
    @Inject(CERT_CONFIG) private readonly config: CertServiceConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly db: DataSource,
  ) {}

  private get enabled(): boolean {
    return this.config.BROKER_ADMIN_URL !== undefined && this.config.BROKER_ADMIN_TOKEN !== undefined;
  }

  onModuleInit(): void {
    if (!this.enabled) {
      this.logger.warn(
        'BROKER_ADMIN_URL or BROKER_ADMIN_TOKEN unset: live sessions are not told when access ends',
      );
      return;
    }
    // Grants end by themselves when they expire; no write announces it, so look every second.
    this.timer = setInterval(() => void this.endExpiredGrants(), 1000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  certificatesRevoked(): void {
    this.send('/admin/v1/trust/refresh', undefined);
  }

  accessEnded(selector: SessionSelector): void {
    const body = { usernames: selector.usernames ?? [], client_ids: selector.clientIds ?? [] };
    if (body.usernames.length === 0 && body.client_ids.length === 0) return;
    this.send('/admin/v1/cache/clear', body);
    this.send('/admin/v1/disconnect', body);
  }

  private async endExpiredGrants(): Promise<void> {
    const until = new Date();
    try {
      const rows: { technician_id: string }[] = await this.db.query(
        `SELECT DISTINCT technician_id FROM technician_grants
          WHERE NOT revoked AND expires_at > $1 AND expires_at <= $2`,
        [this.checkedUntil, until],
      );
      this.checkedUntil = until;
      if (rows.length > 0) this.accessEnded({ usernames: rows.map((r) => r.technician_id) });
    } catch (err) {
      this.logger.warn({ reason: (err as Error).message }, 'expired grant check failed');
    }
  }

  private send(path: string, body: unknown): void {
    if (!this.enabled) return;
    const url = new URL(path, this.config.BROKER_ADMIN_URL);
    fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.config.BROKER_ADMIN_TOKEN}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body ?? {}),
      signal: AbortSignal.timeout(3000),
    })
      .then(async (res) => {
        const answer = await res.text();
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        this.logger.info({ path, answer }, 'broker told that access ended');
      })
      .catch((err: Error) =>
        this.logger.error({ path, reason: err.message }, 'could not reach the broker admin API'),
      );
  }
}
