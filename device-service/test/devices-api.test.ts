import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ingestBatch } from '../src/events/event-ingest.js';
import { EventIngester } from '../src/events/event-ingester.js';
import type { EventMessage } from '../src/events/event-ingest.js';
import { purgeOldEvents } from '../src/events/event-retention.js';
import { EventsRepository, type IncomingEvent } from '../src/events/events.repository.js';
import { createLogger } from '@spincycle/common';
import { DeviceServiceUnderTest, MQTT_SERVICE_SECRET, TECHNICIAN_SCOPES } from './support/device-service.js';

const engine = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite';
let sut: DeviceServiceUnderTest;
let device: { id: string; serial: string; mqttPassword: string };
let grantId: string;

const OWNER = 'owner-api';
const TECH = 'tech-api';
const settings = { program: 'cotton', temperatureC: 40, spinRpm: 1200, delayStartMinutes: 0 };

beforeAll(async () => {
  sut = await DeviceServiceUnderTest.start('devices-api', {}, { broker: true });
  sut.directory.accounts.set('tech@example.test', { id: TECH, roles: ['technician'] });
  sut.directory.accounts.set('owner-api@example.test', { id: OWNER, roles: ['homeowner'] });
  device = await sut.claimedDevice(OWNER);
  const grant = await sut.request('POST', `/devices/${device.id}/grants`, {
    as: OWNER,
    body: { email: 'tech@example.test', scope: 'read' },
  });
  grantId = (grant.body as { id: string }).id;
});
afterAll(() => sut.stop());

describe(`every device endpoint answers a stranger 404, not data (${engine})`, () => {
  // Paths with :device and :grant, filled in once the fixtures exist.
  const endpoints: [string, string, unknown?][] = [
    ['GET', '/devices/:device'],
    ['PATCH', '/devices/:device', { name: 'Mine now' }],
    ['PUT', '/devices/:device/settings', settings],
    ['GET', '/devices/:device/events'],
    ['GET', '/devices/:device/grants'],
    ['POST', '/devices/:device/grants', { email: 'tech@example.test', scope: 'control' }],
    ['DELETE', '/devices/:device/grants/:grant'],
    ['GET', '/devices/:device/audit'],
    ['DELETE', '/devices/:device/claim'],
    ['POST', '/devices/:device/provisioning'],
    ['GET', '/devices/:device/provisioning'],
  ];
  const fill = (path: string, deviceId: string) =>
    path.replace(':device', deviceId).replace(':grant', grantId);

  it.each(endpoints)('%s %s', async (method, path, body) => {
    const stranger = await sut.request(method, fill(path, device.id), { as: 'stranger-api', body });
    expect(stranger).toMatchObject({ status: 404, body: { message: 'device not found' } });
    // An administrator's role does not open a household's machine either.
    const admin = await sut.request(method, fill(path, device.id), {
      as: 'admin-api',
      token: { roles: ['admin'] },
      body,
    });
    expect(admin.status).toBe(404);
    // A device that does not exist gets the very same answer.
    const missing = await sut.request(method, fill(path, 'no-such-device'), { as: 'stranger-api', body });
    expect(missing.body).toEqual(stranger.body);
    // And the owner's device and grant are untouched.
    const grants = await sut.request('GET', `/devices/${device.id}/grants`, { as: OWNER });
    expect((grants.body as { grants: { id: string; revokedAt: string | null }[] }).grants).toContainEqual(
      expect.objectContaining({ id: grantId, revokedAt: null }),
    );
  });

  it("lists none of the stranger's devices", async () => {
    expect((await sut.request('GET', '/devices', { as: 'stranger-api' })).body).toEqual({ devices: [] });
    expect((await sut.request('GET', '/technician/devices', { as: 'stranger-api' })).body).toEqual({
      devices: [],
    });
  });
});

describe(`the owner's devices (${engine})`, () => {
  it('lists them with the online state the broker reported to cert-service', async () => {
    const offline = await sut.request('GET', '/devices', { as: OWNER });
    expect(offline.status).toBe(200);
    const [listed] = (offline.body as { devices: Record<string, unknown>[] }).devices;
    expect(listed).toMatchObject({ id: device.id, serial: device.serial, online: false, model: 'SC-W800' });
    expect(listed).not.toHaveProperty('ownerId');

    // The broker's hook when the device connects, as VerneMQ sends it.
    const hook = await fetch(`${sut.certService.url}/webhooks/vernemq`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'vernemq-hook': 'on_client_wakeup' },
      body: JSON.stringify({ mountpoint: '', client_id: device.id }),
    });
    expect(hook.status).toBe(200);
    const online = await sut.request('GET', '/devices', { as: OWNER });
    const [now] = (online.body as { devices: { online: boolean; lastSeenAt: string | null }[] }).devices;
    expect(now?.online).toBe(true);
    expect(now?.lastSeenAt).not.toBeNull();
  });

  it('renames one', async () => {
    const answer = await sut.request('PATCH', `/devices/${device.id}`, {
      as: OWNER,
      body: { name: '  Basement washer ' },
    });
    expect(answer).toMatchObject({ status: 200, body: { name: 'Basement washer' } });
    expect((await sut.request('GET', `/devices/${device.id}`, { as: OWNER })).body).toMatchObject({
      name: 'Basement washer',
    });
  });

  it('changes settings the model accepts, sending them to the device as a command', async () => {
    const machine = await sut.connectDevice(device.id, device.mqttPassword);
    await machine.subscribeAsync(`devices/${device.id}/commands`, { qos: 1 });
    const received = new Promise<{ topic: string; command: Record<string, unknown> }>((resolve) => {
      machine.once('message', (topic, payload) =>
        resolve({ topic, command: JSON.parse(payload.toString()) }),
      );
    });
    const answer = await sut.request('PUT', `/devices/${device.id}/settings`, { as: OWNER, body: settings });
    expect(answer).toMatchObject({ status: 200, body: { settings } });
    expect(await received).toMatchObject({
      topic: `devices/${device.id}/commands`,
      command: { type: 'settings', settings },
    });
    await machine.endAsync();
    expect((await sut.request('GET', `/devices/${device.id}`, { as: OWNER })).body).toMatchObject({
      settings,
    });
  });

  it.each([
    ['spinRpm', { ...settings, spinRpm: 1500 }],
    ['temperatureC', { ...settings, temperatureC: 95 }],
    ['program', { ...settings, program: 'boil' }],
    ['delayStartMinutes', { ...settings, delayStartMinutes: -5 }],
    ['temperatureC', { ...settings, program: 'wool', temperatureC: 60, spinRpm: 600 }],
  ])('refuses a bad %s with 400 naming the field, and keeps the old settings', async (field, bad) => {
    const answer = await sut.request('PUT', `/devices/${device.id}/settings`, { as: OWNER, body: bad });
    expect(answer.status).toBe(400);
    expect((answer.body as { problems: string[] }).problems.some((p) => p.startsWith(`${field}:`))).toBe(
      true,
    );
    expect((await sut.request('GET', `/devices/${device.id}`, { as: OWNER })).body).toMatchObject({
      settings,
    });
  });
});

describe(`technician grants (${engine})`, () => {
  it('lets a read grant read, and not control', async () => {
    const read = await sut.request('GET', `/devices/${device.id}`, {
      as: TECH,
      token: { scopes: TECHNICIAN_SCOPES, roles: ['technician'] },
    });
    expect(read).toMatchObject({ status: 200, body: { id: device.id } });
    const control = await sut.request('PUT', `/devices/${device.id}/settings`, {
      as: TECH,
      token: { scopes: TECHNICIAN_SCOPES, roles: ['technician'] },
      body: settings,
    });
    expect(control.status).toBe(404);
    const listed = await sut.request('GET', '/technician/devices', {
      as: TECH,
      token: { scopes: TECHNICIAN_SCOPES, roles: ['technician'] },
    });
    expect((listed.body as { devices: { id: string; grant: { scope: string } }[] }).devices).toMatchObject([
      { id: device.id, grant: { id: grantId, scope: 'read' } },
    ]);
  });

  it('lets a control grant change settings; the owner sees the use in the audit log', async () => {
    const grant = await sut.request('POST', `/devices/${device.id}/grants`, {
      as: OWNER,
      body: {
        email: 'tech@example.test',
        scope: 'control',
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      },
    });
    expect(grant.status).toBe(201);
    const controlGrant = (grant.body as { id: string }).id;
    const control = await sut.request('PUT', `/devices/${device.id}/settings`, {
      as: TECH,
      token: { scopes: TECHNICIAN_SCOPES, roles: ['technician'] },
      body: { ...settings, spinRpm: 800 },
    });
    expect(control.status).toBe(200);
    const audit = await sut.request('GET', `/devices/${device.id}/audit`, { as: OWNER });
    const entries = (
      audit.body as {
        entries: {
          action: string;
          actorId: string;
          grantId: string | null;
          detail: Record<string, unknown>;
        }[];
      }
    ).entries;
    expect(entries).toContainEqual(
      expect.objectContaining({ action: 'grant.created', grantId: controlGrant }),
    );
    expect(entries).toContainEqual(
      expect.objectContaining({
        action: 'grant.used',
        actorId: TECH,
        grantId: controlGrant,
        detail: { permission: 'device.control' },
      }),
    );
    // The technician cannot read the audit log, nor grant others.
    const techAudit = await sut.request('GET', `/devices/${device.id}/audit`, {
      as: TECH,
      token: { scopes: ['device.share'], roles: ['technician'] },
    });
    expect(techAudit.status).toBe(404);
    await sut.request('DELETE', `/devices/${device.id}/grants/${controlGrant}`, { as: OWNER });
  });

  it('ends access when revoked, and audits the revocation', async () => {
    const extra = await sut.request('POST', `/devices/${device.id}/grants`, {
      as: OWNER,
      body: { email: 'tech@example.test', scope: 'control' },
    });
    const id = (extra.body as { id: string }).id;
    expect((await sut.request('DELETE', `/devices/${device.id}/grants/${id}`, { as: OWNER })).status).toBe(
      200,
    );
    const control = await sut.request('PUT', `/devices/${device.id}/settings`, {
      as: TECH,
      token: { scopes: TECHNICIAN_SCOPES, roles: ['technician'] },
      body: settings,
    });
    expect(control.status).toBe(404);
    expect((await sut.request('DELETE', `/devices/${device.id}/grants/${id}`, { as: OWNER })).status).toBe(
      404,
    );
    const audit = await sut.request('GET', `/devices/${device.id}/audit`, { as: OWNER });
    expect((audit.body as { entries: { action: string; grantId: string }[] }).entries).toContainEqual(
      expect.objectContaining({ action: 'grant.revoked', grantId: id }),
    );
  });

  it('ends access when the grant expires', async () => {
    const extra = await sut.request('POST', `/devices/${device.id}/grants`, {
      as: OWNER,
      body: { email: 'tech@example.test', scope: 'control' },
    });
    const id = (extra.body as { id: string }).id;
    await sut.database.dataSource.query(
      `UPDATE grants SET expires_at = now() - interval '1 second' WHERE id = $1`,
      [id],
    );
    const control = await sut.request('PUT', `/devices/${device.id}/settings`, {
      as: TECH,
      token: { scopes: TECHNICIAN_SCOPES, roles: ['technician'] },
      body: settings,
    });
    expect(control.status).toBe(404);
  });

  it.each([
    [
      'more than 30 days',
      { scope: 'read', expiresAt: new Date(Date.now() + 31 * 86_400_000).toISOString() },
      'expiresAt',
    ],
    ['in the past', { scope: 'read', expiresAt: new Date(Date.now() - 1000).toISOString() }, 'expiresAt'],
    ['with an unknown scope', { scope: 'admin' }, 'scope'],
  ])('refuses a grant %s, naming the field', async (_what, body, field) => {
    const answer = await sut.request('POST', `/devices/${device.id}/grants`, {
      as: OWNER,
      body: { email: 'tech@example.test', ...body },
    });
    expect(answer.status).toBe(400);
    expect((answer.body as { problems: string[] }).problems.some((p) => p.startsWith(`${field}:`))).toBe(
      true,
    );
  });

  it('defaults a grant to 24 hours', async () => {
    const before = Date.now();
    const answer = await sut.request('POST', `/devices/${device.id}/grants`, {
      as: OWNER,
      body: { email: 'tech@example.test', scope: 'read' },
    });
    const expiresAt = Date.parse((answer.body as { expiresAt: string }).expiresAt);
    expect(expiresAt - before).toBeGreaterThanOrEqual(24 * 3_600_000);
    expect(expiresAt - before).toBeLessThan(24 * 3_600_000 + 60_000);
  });

  it('grants only to technician accounts', async () => {
    const answer = await sut.request('POST', `/devices/${device.id}/grants`, {
      as: OWNER,
      body: { email: 'owner-api@example.test', scope: 'read' },
    });
    expect(answer.status).toBe(404);
    const unknown = await sut.request('POST', `/devices/${device.id}/grants`, {
      as: OWNER,
      body: { email: 'nobody@example.test', scope: 'read' },
    });
    expect(unknown.status).toBe(404);
  });
});

describe(`events (${engine})`, () => {
  const base = Date.parse('2026-06-01T00:00:00Z');
  const event = (i: number, deviceId = device.id): IncomingEvent => ({
    deviceId,
    eventId: `e-${i}`,
    type: 'cycle.progress',
    payload: { step: i },
    deviceTime: new Date(base + i * 1000),
    receivedAt: new Date(base + i * 1000 + 50),
  });

  it('stores a batch once: a resent event is dropped', async () => {
    const events = new EventsRepository(sut.database.dataSource);
    expect(await events.insertBatch(Array.from({ length: 25 }, (_, i) => event(i)))).toBe(25);
    expect(await events.insertBatch([event(3), event(24), event(25)])).toBe(1);
    const other = await sut.claimedDevice('owner-other');
    expect(await events.insertBatch([event(3, other.id)])).toBe(1);
  });

  /** A batch that logs its name as it commits, once `mayCommit` settles; `opened` once it runs. */
  const loggedBatch = (
    events: EventsRepository,
    written: string[],
    name: string,
    kind: 'ordered' | 'events',
    mayCommit: Promise<void> = Promise.resolve(),
    opened: () => void = () => undefined,
  ) =>
    events.writeBatch(async (manager) => {
      await manager.query('SELECT 1');
      opened();
      await mayCommit;
      written.push(name);
    }, kind);

  /** An ordered batch that holds its transaction open until told; `open` once it is. */
  const heldBatch = (events: EventsRepository, written: string[], name: string) => {
    let commit: () => void = () => undefined;
    let opened: () => void = () => undefined;
    const mayCommit = new Promise<void>((resolve) => (commit = resolve));
    const open = new Promise<void>((resolve) => (opened = resolve));
    return { done: loggedBatch(events, written, name, 'ordered', mayCommit, opened), commit, open };
  };

  it('writes ordered batches in the order handed over, the next waiting for the one before to commit', async () => {
    const events = new EventsRepository(sut.database.dataSource);
    const written: string[] = [];
    const first = heldBatch(events, written, 'first');
    const second = loggedBatch(events, written, 'second', 'ordered');
    await vi.waitFor(() => expect(written).toEqual([]));
    first.commit();
    await Promise.all([first.done, second]);
    expect(written).toEqual(['first', 'second']);
  });

  it('writes a batch of events alone beside an ordered one still open, and is not failed by it', async () => {
    const events = new EventsRepository(sut.database.dataSource);
    const written: string[] = [];
    const ordered = heldBatch(events, written, 'ordered');
    await ordered.open;
    const eventsOnly = loggedBatch(events, written, 'events', 'events');
    if (engine === 'PGlite') {
      // One connection (common/src/database.ts): the pool writes them in turn, never interleaved.
      ordered.commit();
      await Promise.all([ordered.done, eventsOnly]);
      expect(written).toEqual(['ordered', 'events']);
      return;
    }
    await eventsOnly;
    expect(written).toEqual(['events']);
    ordered.commit();
    await ordered.done;
    expect(written).toEqual(['events', 'ordered']);
  });

  it('writes nothing of an ordered batch queued behind one that failed, and goes on with the next', async () => {
    const events = new EventsRepository(sut.database.dataSource);
    let secondRan = false;
    let eventsRan = false;
    const first = events.writeBatch(async () => {
      throw new Error('database unavailable');
    }, 'ordered');
    const second = events.writeBatch(async () => {
      secondRan = true;
    }, 'ordered');
    const eventsOnly = events.writeBatch(async () => {
      eventsRan = true;
    }, 'events');
    await expect(first).rejects.toThrow('database unavailable');
    await expect(second).rejects.toThrow('database unavailable');
    await eventsOnly;
    expect(secondRan).toBe(false);
    expect(eventsRan).toBe(true);
    expect(await events.writeBatch(async (manager) => manager.query('SELECT 1 AS n'), 'ordered')).toEqual([
      { n: 1 },
    ]);
  });

  it('ingests a batch of messages: events stored, resends dropped, unreadable ones dead-lettered with the reason', async () => {
    const stores = sut.ingestStores();
    const ingested = await sut.claimedDevice('owner-ingest');
    const receivedAt = new Date();
    const message = (payload: unknown, topic = `devices/${ingested.id}/events`) => ({
      topic,
      payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
      receivedAt,
    });
    const result = await ingestBatch(stores, [
      message({
        id: 'boot-1',
        type: 'device.booted',
        time: '2026-06-01T08:00:00Z',
        data: { firmware: '1.2.0' },
      }),
      message({
        id: 'boot-1',
        type: 'device.booted',
        time: '2026-06-01T08:00:00Z',
        data: { firmware: '1.2.0' },
      }),
      message({ id: 'cycle-1', type: 'cycle.started', data: { program: 'eco' } }),
      message('{"id": "broken'),
      message({ id: 'x', type: 'Not A Type' }),
    ]);
    expect(result).toEqual({ stored: 2, duplicates: 1, deadLettered: 2 });
    // A resend of an already stored event in a later batch is dropped too.
    expect(await ingestBatch(stores, [message({ id: 'cycle-1', type: 'cycle.started' })])).toEqual({
      stored: 0,
      duplicates: 1,
      deadLettered: 0,
    });
    const page = await sut.request('GET', `/devices/${ingested.id}/events`, { as: 'owner-ingest' });
    expect(
      (page.body as { events: { eventId: string; type: string; payload: unknown }[] }).events,
    ).toMatchObject([
      { eventId: 'cycle-1', type: 'cycle.started', payload: { program: 'eco' } },
      {
        eventId: 'boot-1',
        type: 'device.booted',
        payload: { firmware: '1.2.0' },
        deviceTime: '2026-06-01T08:00:00.000Z',
      },
    ]);
    const dead: { topic: string; payload: Buffer; reason: string }[] = await sut.database.dataSource.query(
      'SELECT topic, payload, reason FROM dead_letters WHERE topic = $1 ORDER BY id',
      [`devices/${ingested.id}/events`],
    );
    expect(dead.map((d) => [d.payload.toString(), d.reason])).toEqual([
      ['{"id": "broken', 'payload is not JSON'],
      ['{"id":"x","type":"Not A Type"}', 'type: must be dotted lower-case words'],
    ]);
  });

  it('pages newest first with a cursor, to the end, without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=10&before=${cursor}` : '?limit=10';
      const answer = await sut.request('GET', `/devices/${device.id}/events${query}`, { as: OWNER });
      expect(answer.status).toBe(200);
      const page = answer.body as { events: { eventId: string }[]; nextCursor: string | null };
      seen.push(...page.events.map((e) => e.eventId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 26 }, (_, i) => `e-${25 - i}`));
  });

  it('filters by received time', async () => {
    const from = new Date(base + 5_000).toISOString();
    const to = new Date(base + 8_000).toISOString();
    const answer = await sut.request('GET', `/devices/${device.id}/events?from=${from}&to=${to}`, {
      as: OWNER,
    });
    expect((answer.body as { events: { eventId: string }[] }).events.map((e) => e.eventId)).toEqual([
      'e-7',
      'e-6',
      'e-5',
    ]);
  });

  it.each([
    ['before', '?before=not-a-cursor'],
    ['limit', '?limit=100000'],
    ['from', '?from=yesterday'],
    ['body', '?secret=1'],
  ])('refuses a bad %s with 400', async (field, query) => {
    const answer = await sut.request('GET', `/devices/${device.id}/events${query}`, { as: OWNER });
    expect(answer.status).toBe(400);
    expect((answer.body as { problems: string[] }).problems.some((p) => p.startsWith(`${field}:`))).toBe(
      true,
    );
  });

  it('lets a technician with a read grant read events', async () => {
    const answer = await sut.request('GET', `/devices/${device.id}/events?limit=1`, {
      as: TECH,
      token: { scopes: TECHNICIAN_SCOPES, roles: ['technician'] },
    });
    expect(answer).toMatchObject({ status: 200, body: { events: [{ eventId: 'e-25' }] } });
  });

  it('purges events and dead letters past the retention period in batches, and nothing newer', async () => {
    const events = new EventsRepository(sut.database.dataSource);
    const aged = await sut.claimedDevice('owner-aged');
    // The other events of this file were received just after `base`.
    const now = new Date(base);
    const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000);
    const at = (i: number, days: number): IncomingEvent => ({
      ...event(i, aged.id),
      receivedAt: daysAgo(days),
    });
    await events.insertBatch([at(1, 40), at(2, 35), at(3, 31), at(4, 29), at(5, 1)]);
    await sut.database.dataSource.query(
      `INSERT INTO dead_letters (topic, payload, reason, received_at)
       VALUES ('devices/x/events', '\\x00', 'not JSON', $1), ('devices/x/events', '\\x00', 'not JSON', $2)`,
      [daysAgo(31), daysAgo(1)],
    );
    const purged = await purgeOldEvents(events, { retentionDays: 30, batch: 2 }, now);
    expect(purged).toEqual({ events: 3, deadLetters: 1 });
    const left: { event_id: string }[] = await sut.database.dataSource.query(
      'SELECT event_id FROM events WHERE device_id = $1 ORDER BY event_id',
      [aged.id],
    );
    expect(left.map((r) => r.event_id)).toEqual(['e-4', 'e-5']);
    // The other device's recent events are untouched.
    const page = await sut.request('GET', `/devices/${device.id}/events?limit=500`, { as: OWNER });
    expect((page.body as { events: unknown[] }).events).toHaveLength(26);
  });
});

describe(`event ingestion through the broker (${engine})`, () => {
  const eventIdsOf = async (owner: string, deviceId: string): Promise<string[]> => {
    const answer = await sut.request('GET', `/devices/${deviceId}/events?limit=500`, { as: owner });
    return (answer.body as { events: { eventId: string }[] }).events.map((e) => e.eventId).sort();
  };

  it('stores what a device publishes at QoS 1, once, and dead-letters what it cannot read', async () => {
    const washer = await sut.claimedDevice('owner-mqtt');
    const machine = await sut.connectDevice(washer.id, washer.mqttPassword);
    const topic = `devices/${washer.id}/events`;
    const publish = (payload: unknown) =>
      machine.publishAsync(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), {
        qos: 1,
      });
    for (let i = 0; i < 20; i += 1)
      await publish({ id: `m-${i}`, type: 'cycle.progress', data: { step: i } });
    await publish({ id: 'm-3', type: 'cycle.progress', data: { step: 3 } });
    await publish('not json at all');

    const expected = Array.from({ length: 20 }, (_, i) => `m-${i}`).sort();
    await vi.waitFor(async () => expect(await eventIdsOf('owner-mqtt', washer.id)).toEqual(expected), {
      timeout: 10_000,
      interval: 50,
    });
    await vi.waitFor(
      async () => {
        const dead: { reason: string }[] = await sut.database.dataSource.query(
          'SELECT reason FROM dead_letters WHERE topic = $1',
          [topic],
        );
        expect(dead).toEqual([{ reason: 'payload is not JSON' }]);
      },
      { timeout: 10_000, interval: 50 },
    );
    await machine.endAsync();
  });

  it('keeps its session across a restart: what arrived while it was down is stored after', async () => {
    const washer = await sut.claimedDevice('owner-restart');
    const machine = await sut.connectDevice(washer.id, washer.mqttPassword);
    const topic = `devices/${washer.id}/events`;
    await machine.publishAsync(topic, JSON.stringify({ id: 'before', type: 'cycle.started' }), { qos: 1 });
    await vi.waitFor(async () => expect(await eventIdsOf('owner-restart', washer.id)).toEqual(['before']), {
      timeout: 10_000,
      interval: 50,
    });
    await sut.restartService(async () => {
      for (const id of ['while-down-1', 'while-down-2']) {
        await machine.publishAsync(topic, JSON.stringify({ id, type: 'cycle.progress' }), { qos: 1 });
      }
    });
    await vi.waitFor(
      async () =>
        expect(await eventIdsOf('owner-restart', washer.id)).toEqual([
          'before',
          'while-down-1',
          'while-down-2',
        ]),
      { timeout: 10_000, interval: 50 },
    );
    await machine.endAsync();
  });

  it('acknowledges nothing it could not store: the broker delivers it again', async () => {
    const washer = await sut.claimedDevice('owner-retry');
    const attempts: string[][] = [];
    let failNext = true;
    let storedAgain: () => void = () => undefined;
    const redelivered = new Promise<void>((resolve) => (storedAgain = resolve));
    // A second ingester session of the same service, whose first store fails.
    const ingester = new EventIngester(
      {
        url: sut.broker?.endpoints.ws ?? '',
        clientId: 'device-service:ingest-retry-test',
        username: 'device-service',
        password: MQTT_SERVICE_SECRET,
        batchSize: 100,
        batchWaitMs: 10,
        keepaliveSeconds: 30,
        reconnectMs: 50,
      },
      async (messages: readonly EventMessage[]) => {
        const ours = messages.filter((m) => m.topic === `devices/${washer.id}/events`);
        if (ours.length > 0) attempts.push(ours.map((m) => JSON.parse(m.payload.toString()).id));
        if (ours.length > 0 && failNext) {
          failNext = false;
          throw new Error('database unavailable');
        }
        if (ours.length > 0) storedAgain();
        return { stored: messages.length, duplicates: 0, deadLettered: 0 };
      },
      createLogger({ service: 'test', level: 'silent' }),
    );
    ingester.start();
    try {
      // The session must exist before the publish, for the broker to deliver to it.
      await ingester.subscribed;
      const machine = await sut.connectDevice(washer.id, washer.mqttPassword);
      await machine.publishAsync(
        `devices/${washer.id}/events`,
        JSON.stringify({ id: 'retry-me', type: 'cycle.finished' }),
        { qos: 1 },
      );
      await redelivered;
      expect(attempts).toEqual([['retry-me'], ['retry-me']]);
      await machine.endAsync();
    } finally {
      await ingester.stop();
    }
  });
});
