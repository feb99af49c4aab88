import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ServiceDatabase, type Logger } from '@spincycle/common';
import { LOGGER } from '@spincycle/common/nest';
import type { CertServiceConfig } from '../config.js';
import { CERT_CONFIG } from '../tokens.js';
import { cacheTags, DecisionCache } from './decision-cache.js';

/** PostgreSQL channel on which every replica announces the facts it changed. */
const CHANNEL = 'cert_service_fact_changes';

/** The part of node-postgres' client the listener uses. */
interface ListeningClient {
  query(sql: string): Promise<unknown>;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error' | 'end', listener: (err?: Error) => void): unknown;
}

/**
 * The process's decision cache, and the one place every fact change reports to. A change made
 * here is dropped from this cache at once and announced with NOTIFY, so other replicas on the
 * same PostgreSQL database drop it too. Should the listening connection fail, this replica stops
 * caching rather than risk keeping a decision the database no longer supports.
 */
@Injectable()
export class AuthorizationCache implements OnModuleInit, OnModuleDestroy {
  readonly decisions: DecisionCache;
  private listener: { client: ListeningClient; release: (err?: Error) => void } | undefined;
  private closing = false;

  constructor(
    @Inject(CERT_CONFIG) config: CertServiceConfig,
    private readonly database: ServiceDatabase,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.decisions = new DecisionCache(config.DECISION_CACHE_TTL_MS, config.DECISION_CACHE_MAX_ENTRIES);
  }

  async onModuleInit(): Promise<void> {
    // The embedded database belongs to this one process: there is nobody else to hear from.
    if (this.database.kind !== 'postgres') return;
    const driver = this.database.dataSource.driver as unknown as {
      obtainMasterConnection(): Promise<[ListeningClient, (err?: Error) => void]>;
    };
    const [client, release] = await driver.obtainMasterConnection();
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || message.payload === undefined) return;
      try {
        this.decisions.invalidate(JSON.parse(message.payload) as string[]);
      } catch {
        this.lost(new Error('unreadable change notification'));
      }
    });
    client.on('error', (err) => this.lost(err ?? new Error('listening connection failed')));
    client.on('end', () => this.lost(new Error('listening connection ended')));
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = { client, release };
  }

  onModuleDestroy(): void {
    this.closing = true;
    this.listener?.release(new Error('closing'));
    this.listener = undefined;
  }

  /** A device's record, ownership, status or certificates changed: as topic target and as actor. */
  deviceChanged(deviceId: string): Promise<void> {
    return this.changed([cacheTags.device(deviceId), cacheTags.identity(deviceId)]);
  }

  identityChanged(username: string): Promise<void> {
    return this.changed([cacheTags.identity(username)]);
  }

  /** How many cached decisions concern the device, as actor or as topic. */
  entriesForDevice(deviceId: string): number {
    return (
      this.decisions.countTagged(cacheTags.device(deviceId)) +
      this.decisions.countTagged(cacheTags.identity(deviceId))
    );
  }

  private async changed(tags: string[]): Promise<void> {
    this.decisions.invalidate(tags);
    if (this.database.kind === 'postgres') {
      await this.database.dataSource.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(tags)]);
    }
  }

  private lost(err: Error): void {
    if (this.closing) return;
    this.decisions.disable();
    this.logger.error({ err: err.message }, 'fact change notifications lost: decision cache disabled');
  }
}
