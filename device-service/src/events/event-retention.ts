import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LOGGER } from '@spincycle/common/nest';
import type { Logger } from '@spincycle/common';
import type { DeviceServiceConfig } from '../config.js';
import { EventsRepository } from './events.repository.js';

export interface RetentionPolicy {
  retentionDays: number;
  batch: number;
}

const DAY_MS = 86_400_000;

/** Deletes events and dead letters older than the retention period, in batches. */
export async function purgeOldEvents(
  events: EventsRepository,
  policy: RetentionPolicy,
  now: Date,
): Promise<{ events: number; deadLetters: number }> {
  const cutoff = new Date(now.getTime() - policy.retentionDays * DAY_MS);
  const purged = { events: 0, deadLetters: 0 };
  for (const [table, key] of [
    ['events', 'events'],
    ['dead_letters', 'deadLetters'],
  ] as const) {
    let deleted: number;
    do {
      deleted = await events.deleteReceivedBefore(table, cutoff, policy.batch);
      purged[key] += deleted;
    } while (deleted === policy.batch);
  }
  return purged;
}

/** Runs the purge every EVENT_RETENTION_INTERVAL_MS, one run at a time. */
@Injectable()
export class EventRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly policy: RetentionPolicy;
  private readonly intervalMs: number;

  constructor(
    private readonly events: EventsRepository,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(ConfigService) config: ConfigService<DeviceServiceConfig, true>,
  ) {
    this.policy = {
      retentionDays: config.get('EVENT_RETENTION_DAYS', { infer: true }),
      batch: config.get('EVENT_RETENTION_BATCH', { infer: true }),
    };
    this.intervalMs = config.get('EVENT_RETENTION_INTERVAL_MS', { infer: true });
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.runOnce(), this.intervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private runOnce(): void {
    if (this.running) return;
    this.running = purgeOldEvents(this.events, this.policy, new Date())
      .then((purged) => {
        if (purged.events + purged.deadLetters > 0) this.logger.info(purged, 'old events purged');
      })
      .catch((err: unknown) => this.logger.error({ err }, 'purging old events failed; retried next interval'))
      .finally(() => {
        this.running = undefined;
      });
  }
}
