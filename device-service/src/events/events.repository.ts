import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

export interface IncomingEvent {
  deviceId: string;
  eventId: string;
  type: string;
  payload: unknown;
  deviceTime: Date | null;
  receivedAt: Date;
}

export interface DeadLetter {
  topic: string;
  payload: Buffer;
  reason: string;
  receivedAt: Date;
}

export interface StoredEvent {
  eventId: string;
  type: string;
  payload: unknown;
  deviceTime: Date | null;
  receivedAt: Date;
}

/** Where a page of events continues: the last row shown, in the (received_at, id) order. */
export interface EventCursor {
  /** received_at as the database writes it, to the microsecond (a Date would round it). */
  receivedAt: string;
  id: string;
}

export interface EventQuery {
  deviceId: string;
  before: EventCursor | null;
  from: Date | null;
  to: Date | null;
  limit: number;
}

interface EventRow {
  id: string;
  event_id: string;
  type: string;
  payload: unknown;
  device_time: Date | null;
  received_at: Date;
  received_key: string;
}

interface PreparedStatement {
  name: string;
  text: string;
}

/** What TypeORM's PostgreSQL query runner connects to: a client of node-postgres's pool. */
interface PgClient {
  query(query: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** The statements each client has been checked for, before it prepares them the first time. */
const checkedClients = new WeakMap<PgClient, Set<string>>();

const INSERT_EVENTS: PreparedStatement = {
  name: 'events_insert_batch',
  text: `WITH stored AS (
      INSERT INTO events (device_id, event_id, type, payload, device_time, received_at)
      SELECT e.device_id, e.event_id, e.type, e.payload,
        to_timestamp(e.device_time / 1000.0), to_timestamp(e.received_at / 1000.0)
      FROM jsonb_to_recordset($1::jsonb)
        AS e(device_id text, event_id text, type text, payload jsonb, device_time float8, received_at float8)
      ON CONFLICT ON CONSTRAINT events_device_event DO NOTHING
      RETURNING 1)
    SELECT count(*)::int AS stored FROM stored`,
};

/** The only code that reads or writes stored events. */
@Injectable()
export class EventsRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Stores a batch in one multi-row statement; an event already stored (same device and event
   * id, as a device resends after a lost acknowledgement) is dropped. Answers how many were new.
   */
  async insertBatch(
    events: readonly IncomingEvent[],
    manager: EntityManager = this.db.manager,
  ): Promise<number> {
    if (events.length === 0) return 0;
    // Times travel as epoch milliseconds: formatting two ISO strings an event cost the service
    // more than the rest of serialising it, and to_timestamp of a whole millisecond is exact to
    // the microsecond. One count comes back rather than one row per stored event.
    const [{ stored }] = (await this.prepared(manager, INSERT_EVENTS, [
      JSON.stringify(
        events.map((e) => ({
          device_id: e.deviceId,
          event_id: e.eventId,
          type: e.type,
          payload: e.payload,
          device_time: e.deviceTime?.getTime() ?? null,
          received_at: e.receivedAt.getTime(),
        })),
      ),
    ])) as [{ stored: number }];
    return stored;
  }

  /**
   * Runs a named prepared statement on the manager's connection (its transaction's, if any), so
   * that PostgreSQL parses and plans it once per connection rather than at every batch; TypeORM's
   * query sends every statement unnamed.
   */
  private async prepared(
    manager: EntityManager,
    statement: PreparedStatement,
    values: unknown[],
  ): Promise<unknown[]> {
    const runner = manager.queryRunner ?? this.db.createQueryRunner();
    try {
      const client = (await runner.connect()) as PgClient;
      const checked = checkedClients.get(client) ?? new Set<string>();
      if (!checked.has(statement.name)) {
        // PGlite serves every connection from one session, where a statement prepared by a client
        // the pool has since closed outlives it: preparing it again would fail (42P05).
        const { rows } = await client.query({
          text: 'SELECT 1 FROM pg_prepared_statements WHERE name = $1',
          values: [statement.name],
        });
        if (rows.length > 0) await client.query({ text: `DEALLOCATE ${statement.name}` });
        checkedClients.set(client, checked.add(statement.name));
      }
      return (await client.query({ ...statement, values })).rows;
    } finally {
      if (runner !== manager.queryRunner) await runner.release();
    }
  }

  /** The last ordered batch handed to `writeBatch`, and how many are queued or being written. */
  private lastOrdered: Promise<unknown> = Promise.resolve();
  private orderedInHand = 0;

  /**
   * Writes one ingested batch: its events, states, tokens and dead letters, or none of them.
   *
   * An `ordered` batch (device states, firmware reports, provisioning tokens) is written in one
   * transaction, after every ordered batch handed over before it has committed: none may overtake
   * the one before it, or a rollout would take a device's older report. For the same reason an
   * ordered batch that fails fails the ordered ones queued behind it, which write nothing; the
   * broker delivers all of them again.
   *
   * An `events` batch (events and nothing else, most of them) is one statement, atomic by itself,
   * so it goes without BEGIN and COMMIT; and since stored events are the same whatever order they
   * are inserted in (a resend is dropped either way), it is written at once, beside whatever else is
   * being written. With batches written one after another, PostgreSQL did one batch's work at a
   * time while the machine had CPU to spare, and the ingester fell behind the fleet
   * (bench/device-service). Two inserts holding each other's resends would deadlock only if the
   * resends came in the opposite order to the originals; PostgreSQL then fails one, and the broker
   * delivers its batch again.
   */
  writeBatch<T>(work: (manager: EntityManager) => Promise<T>, kind: 'ordered' | 'events'): Promise<T> {
    if (kind === 'events') return work(this.db.manager);
    const previous = this.orderedInHand === 0 ? Promise.resolve() : this.lastOrdered;
    this.orderedInHand++;
    const written = previous.then(() => this.db.transaction(work));
    const settled = () => {
      this.orderedInHand--;
    };
    written.then(settled, settled);
    this.lastOrdered = written;
    return written;
  }

  /** Keeps unreadable messages with the reason, in one statement. */
  async insertDeadLetters(deadLetters: readonly DeadLetter[], manager: EntityManager): Promise<void> {
    if (deadLetters.length === 0) return;
    await manager.query(
      `INSERT INTO dead_letters (topic, payload, reason, received_at)
       SELECT d.topic, decode(d.payload, 'base64'), d.reason, d.received_at
       FROM jsonb_to_recordset($1::jsonb) AS d(topic text, payload text, reason text, received_at timestamptz)`,
      [
        JSON.stringify(
          deadLetters.map((d) => ({
            topic: d.topic,
            payload: d.payload.toString('base64'),
            reason: d.reason,
            received_at: d.receivedAt.toISOString(),
          })),
        ),
      ],
    );
  }

  /** One page, newest first; answers the rows and the cursor of the last one. */
  async page(query: EventQuery): Promise<{ events: StoredEvent[]; last: EventCursor | null }> {
    const rows: EventRow[] = await this.db.query(
      `SELECT id::text AS id, event_id, type, payload, device_time, received_at, received_at::text AS received_key
       FROM events
       WHERE device_id = $1
         AND ($2::timestamptz IS NULL OR (received_at, id) < ($2::timestamptz, $3::bigint))
         AND ($4::timestamptz IS NULL OR received_at >= $4::timestamptz)
         AND ($5::timestamptz IS NULL OR received_at < $5::timestamptz)
       ORDER BY received_at DESC, id DESC
       LIMIT $6`,
      [
        query.deviceId,
        query.before?.receivedAt ?? null,
        query.before?.id ?? null,
        query.from,
        query.to,
        query.limit,
      ],
    );
    const lastRow = rows.at(-1);
    return {
      events: rows.map((r) => ({
        eventId: r.event_id,
        type: r.type,
        payload: r.payload,
        deviceTime: r.device_time,
        receivedAt: r.received_at,
      })),
      last: lastRow ? { receivedAt: lastRow.received_key, id: lastRow.id } : null,
    };
  }

  /**
   * Deletes up to `batch` rows of the table received before the cutoff, oldest first; answers how
   * many. Small batches keep each transaction short while ingestion goes on.
   */
  async deleteReceivedBefore(table: 'events' | 'dead_letters', cutoff: Date, batch: number): Promise<number> {
    // TypeORM answers a DELETE with [rows, affected count].
    const [, deleted]: [unknown, number] = await this.db.query(
      `DELETE FROM ${table} WHERE id IN (
         SELECT id FROM ${table} WHERE received_at < $1 ORDER BY received_at LIMIT $2)`,
      [cutoff, batch],
    );
    return deleted;
  }
}
