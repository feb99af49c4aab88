import type { ServiceDatabase } from '@spincycle/common';
import { openTestDatabase } from '@spincycle/common/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations } from '../database/migrations.js';
import { EventsRepository, type IncomingEvent } from './events.repository.js';

const opened: (() => Promise<void>)[] = [];

/** A database of its own, so that no other test has used its connections. */
async function freshRepository(): Promise<{ database: ServiceDatabase; events: EventsRepository }> {
  const { database, close } = await openTestDatabase('events-repository', {
    service: 'device-service',
    migrations,
  });
  opened.push(close);
  return { database, events: new EventsRepository(database.dataSource) };
}

afterEach(async () => {
  for (const close of opened.splice(0)) await close();
});

const event = (eventId: string, deviceTime: Date | null, receivedAt: Date): IncomingEvent => ({
  deviceId: 'D1',
  eventId,
  type: 'cycle.progress',
  payload: { step: 1, note: 'say "hi"' },
  deviceTime,
  receivedAt,
});

describe('EventsRepository.insertBatch', () => {
  it('stores the times to the millisecond and counts only the new events, dropping resends', async () => {
    const { database, events } = await freshRepository();
    const receivedAt = new Date('2026-06-01T08:00:00.123Z');
    const deviceTime = new Date('1999-12-31T23:59:59.999Z');
    expect(await events.insertBatch([event('a', deviceTime, receivedAt), event('b', null, receivedAt)])).toBe(
      2,
    );
    expect(await events.insertBatch([event('b', null, receivedAt), event('c', null, receivedAt)])).toBe(1);
    const rows: { event_id: string; device_time: string | null; received_at: string; payload: unknown }[] =
      await database.dataSource.query(
        `SELECT event_id, payload,
           to_char(device_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS device_time,
           to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS received_at
         FROM events ORDER BY id`,
      );
    expect(rows).toEqual([
      {
        event_id: 'a',
        payload: { step: 1, note: 'say "hi"' },
        device_time: '1999-12-31T23:59:59.999000',
        received_at: '2026-06-01T08:00:00.123000',
      },
      {
        event_id: 'b',
        payload: { step: 1, note: 'say "hi"' },
        device_time: null,
        received_at: '2026-06-01T08:00:00.123000',
      },
      {
        event_id: 'c',
        payload: { step: 1, note: 'say "hi"' },
        device_time: null,
        received_at: '2026-06-01T08:00:00.123000',
      },
    ]);
  });

  it('stores on a connection whose session still holds the statement from a client since closed, as PGlite’s does', async () => {
    const { database, events } = await freshRepository();
    const stored = await database.dataSource.transaction(async (manager) => {
      // What a pool client closed after its idle timeout leaves behind in a shared session.
      await manager.query('PREPARE events_insert_batch AS SELECT 1');
      return events.insertBatch([event('a', null, new Date())], manager);
    });
    expect(stored).toBe(1);
    expect(await events.insertBatch([event('a', null, new Date()), event('b', null, new Date())])).toBe(1);
  });
});
