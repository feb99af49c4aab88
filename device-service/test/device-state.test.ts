import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MqttClient } from 'mqtt';
import { ingestBatch, type EventMessage } from '../src/events/event-ingest.js';
import { MAX_STATE_BYTES } from '../src/events/state.schema.js';
import { DeviceServiceUnderTest, TECHNICIAN_SCOPES } from './support/device-service.js';

const engine = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite';
const WAIT = { timeout: 10_000, interval: 50 };
let sut: DeviceServiceUnderTest;

beforeAll(async () => {
  sut = await DeviceServiceUnderTest.start('device-state', {}, { broker: true });
  sut.directory.accounts.set('tech-state@example.test', { id: 'tech-state', roles: ['technician'] });
});
afterAll(() => sut.stop());

interface DeviceJson {
  id: string;
  firmwareVersion: string | null;
  lastState: Record<string, unknown> | null;
  lastStateAt: string | null;
}

const deviceOf = async (owner: string, deviceId: string): Promise<DeviceJson> => {
  const answer = await sut.request('GET', `/devices/${deviceId}`, { as: owner });
  expect(answer.status).toBe(200);
  return answer.body as DeviceJson;
};

const publishState = (machine: MqttClient, deviceId: string, state: unknown) =>
  machine.publishAsync(
    `devices/${deviceId}/state`,
    typeof state === 'string' ? state : JSON.stringify(state),
    { qos: 1, retain: true },
  );

/**
 * Waits until an event published after `publishState` is stored: the ingester keeps the broker's
 * order and commits batch after batch, so whatever state came before has been decided by then.
 */
const settle = async (machine: MqttClient, owner: string, deviceId: string, id: string) => {
  await machine.publishAsync(`devices/${deviceId}/events`, JSON.stringify({ id, type: 'test.marker' }), {
    qos: 1,
  });
  await vi.waitFor(async () => {
    const answer = await sut.request('GET', `/devices/${deviceId}/events?limit=500`, { as: owner });
    expect((answer.body as { events: { eventId: string }[] }).events.map((e) => e.eventId)).toContain(id);
  }, WAIT);
};

describe(`the last state a device published (${engine})`, () => {
  it('is recorded from its state topic and shown to the owner and a granted technician', async () => {
    const owner = 'owner-state';
    const washer = await sut.claimedDevice(owner);
    const before = await deviceOf(owner, washer.id);
    expect(before).toMatchObject({ lastState: null, lastStateAt: null, firmwareVersion: null });

    const machine = await sut.connectDevice(washer.id, washer.mqttPassword);
    const state = {
      time: '2026-06-01T08:00:00Z',
      firmwareVersion: '1.4.2',
      status: 'running',
      program: 'cotton',
      remainingMinutes: 42,
      door: { locked: true },
    };
    await publishState(machine, washer.id, state);
    await vi.waitFor(
      async () =>
        expect(await deviceOf(owner, washer.id)).toMatchObject({
          lastState: state,
          lastStateAt: '2026-06-01T08:00:00.000Z',
          firmwareVersion: '1.4.2',
        }),
      WAIT,
    );

    const listed = await sut.request('GET', '/devices', { as: owner });
    expect((listed.body as { devices: DeviceJson[] }).devices).toMatchObject([
      { id: washer.id, lastState: state, lastStateAt: '2026-06-01T08:00:00.000Z' },
    ]);
    await sut.request('POST', `/devices/${washer.id}/grants`, {
      as: owner,
      body: { email: 'tech-state@example.test', scope: 'read' },
    });
    const granted = await sut.request('GET', '/technician/devices', {
      as: 'tech-state',
      token: { scopes: TECHNICIAN_SCOPES, roles: ['technician'] },
    });
    expect((granted.body as { devices: DeviceJson[] }).devices).toMatchObject([
      { id: washer.id, lastState: state, lastStateAt: '2026-06-01T08:00:00.000Z' },
    ]);
    // A stranger sees none of it.
    expect((await sut.request('GET', `/devices/${washer.id}`, { as: 'stranger-state' })).status).toBe(404);
    await machine.endAsync();
  });

  it('is not overwritten by an older state that arrives later', async () => {
    const owner = 'owner-order';
    const washer = await sut.claimedDevice(owner);
    const machine = await sut.connectDevice(washer.id, washer.mqttPassword);
    const newer = { time: '2026-06-01T09:00:00Z', status: 'finished', firmwareVersion: '2.0.0' };
    await publishState(machine, washer.id, newer);
    await vi.waitFor(async () => expect((await deviceOf(owner, washer.id)).lastState).toEqual(newer), WAIT);

    await publishState(machine, washer.id, {
      time: '2026-06-01T08:30:00Z',
      status: 'running',
      firmwareVersion: '1.9.0',
    });
    await settle(machine, owner, washer.id, 'after-older-state');
    expect(await deviceOf(owner, washer.id)).toMatchObject({
      lastState: newer,
      lastStateAt: '2026-06-01T09:00:00.000Z',
      firmwareVersion: '2.0.0',
    });

    // A state without a time is as new as its receipt, so it replaces the 2026 state.
    await publishState(machine, washer.id, { status: 'idle' });
    await vi.waitFor(
      async () => expect((await deviceOf(owner, washer.id)).lastState).toEqual({ status: 'idle' }),
      WAIT,
    );
    const { lastStateAt, firmwareVersion } = await deviceOf(owner, washer.id);
    expect(Date.parse(lastStateAt ?? '')).toBeGreaterThan(Date.parse('2026-06-01T09:00:00Z'));
    // A state that does not name the firmware leaves the known version alone.
    expect(firmwareVersion).toBe('2.0.0');
    await machine.endAsync();
  });

  it('dead-letters an invalid state with the reason, and keeps the last valid one', async () => {
    const owner = 'owner-invalid';
    const washer = await sut.claimedDevice(owner);
    const machine = await sut.connectDevice(washer.id, washer.mqttPassword);
    const valid = { time: '2026-06-01T10:00:00Z', status: 'paused' };
    await publishState(machine, washer.id, valid);
    await vi.waitFor(async () => expect((await deviceOf(owner, washer.id)).lastState).toEqual(valid), WAIT);

    await publishState(machine, washer.id, { status: 'spinning' });
    await publishState(machine, washer.id, { firmwareVersion: 'v2' });
    await publishState(machine, washer.id, '["idle"]');
    await publishState(machine, washer.id, 'not json');
    await publishState(machine, washer.id, { status: 'idle', blob: 'x'.repeat(MAX_STATE_BYTES) });
    await vi.waitFor(async () => {
      const dead: { reason: string }[] = await sut.database.dataSource.query(
        'SELECT reason FROM dead_letters WHERE topic = $1 ORDER BY id',
        [`devices/${washer.id}/state`],
      );
      expect(dead.map((d) => d.reason)).toEqual([
        expect.stringMatching(/^status: /),
        'firmwareVersion: must be major.minor.patch',
        expect.stringMatching(/^payload: /),
        'payload is not JSON',
        `payload exceeds ${MAX_STATE_BYTES} bytes`,
      ]);
    }, WAIT);
    expect(await deviceOf(owner, washer.id)).toMatchObject({
      lastState: valid,
      lastStateAt: '2026-06-01T10:00:00.000Z',
      firmwareVersion: null,
    });
    await machine.endAsync();
  });

  it('is forgotten when the owner releases the device; its firmware version is not', async () => {
    const owner = 'owner-release-state';
    const washer = await sut.claimedDevice(owner);
    const machine = await sut.connectDevice(washer.id, washer.mqttPassword);
    await publishState(machine, washer.id, { status: 'finished', firmwareVersion: '1.2.3' });
    await vi.waitFor(async () => expect((await deviceOf(owner, washer.id)).lastState).not.toBeNull(), WAIT);
    await machine.endAsync();

    const released = await sut.request('DELETE', `/devices/${washer.id}/claim`, { as: owner });
    expect(released.status).toBe(200);
    const next = 'owner-after-release';
    const claimed = await sut.request('POST', '/claims', {
      as: next,
      body: { serial: washer.serial, claimCode: (released.body as { claimCode: string }).claimCode },
    });
    expect(claimed.status).toBe(201);
    expect(await deviceOf(next, washer.id)).toMatchObject({
      lastState: null,
      lastStateAt: null,
      firmwareVersion: '1.2.3',
    });
  });
});

describe(`recording states batch by batch (${engine})`, () => {
  const message = (deviceId: string, state: unknown, receivedAt: Date, retained = false): EventMessage => ({
    topic: `devices/${deviceId}/state`,
    payload: Buffer.from(JSON.stringify(state)),
    receivedAt,
    retained,
  });
  const stateRow = async (deviceId: string) => {
    const rows: { last_state: unknown; last_state_at: Date | null; firmware_version: string | null }[] =
      await sut.database.dataSource.query(
        'SELECT last_state, last_state_at, firmware_version FROM devices WHERE id = $1',
        [deviceId],
      );
    return rows[0];
  };

  it('keeps only the newest state of each device in a batch, whatever the order of arrival', async () => {
    const [a, b] = await sut.provision(2);
    if (!a || !b) throw new Error('nothing provisioned');
    const now = new Date();
    const at = (minute: number) => `2026-06-01T10:${String(minute).padStart(2, '0')}:00Z`;
    const result = await ingestBatch(sut.ingestStores(), [
      message(a.id, { time: at(2), status: 'running', firmwareVersion: '1.0.2' }, now),
      message(b.id, { time: at(5), status: 'error' }, now),
      message(a.id, { time: at(3), status: 'finished', firmwareVersion: '1.0.3' }, now),
      message(a.id, { time: at(1), status: 'idle', firmwareVersion: '1.0.1' }, now),
    ]);
    // States are not events: nothing is stored in the events table for them.
    expect(result).toEqual({ stored: 0, duplicates: 0, deadLettered: 0 });
    expect(await stateRow(a.id)).toEqual({
      last_state: { time: at(3), status: 'finished', firmwareVersion: '1.0.3' },
      last_state_at: new Date(at(3)),
      firmware_version: '1.0.3',
    });
    expect(await stateRow(b.id)).toMatchObject({ last_state: { status: 'error' } });

    // Of two states of the same time, the one received later wins.
    await ingestBatch(sut.ingestStores(), [
      message(b.id, { time: at(5), status: 'paused' }, now),
      message(b.id, { time: at(5), status: 'running' }, now),
    ]);
    expect(await stateRow(b.id)).toMatchObject({ last_state: { status: 'running' } });
  });

  it('leaves the time of the recorded state alone when the broker replays its retained copy', async () => {
    const [device] = await sut.provision(1);
    if (!device) throw new Error('nothing provisioned');
    const first = new Date(Date.now() - 60_000);
    await ingestBatch(sut.ingestStores(), [message(device.id, { status: 'idle' }, first)]);
    expect((await stateRow(device.id))?.last_state_at).toEqual(first);

    // The ingester resubscribed: the same retained state comes again, marked as retained.
    await ingestBatch(sut.ingestStores(), [message(device.id, { status: 'idle' }, new Date(), true)]);
    expect((await stateRow(device.id))?.last_state_at).toEqual(first);

    // A retained state it had not seen (published while it was away) is recorded.
    const later = new Date(Date.now() - 30_000);
    await ingestBatch(sut.ingestStores(), [message(device.id, { status: 'running' }, later, true)]);
    expect(await stateRow(device.id)).toMatchObject({
      last_state: { status: 'running' },
      last_state_at: later,
    });

    // The device saying the same again is news: the time moves.
    const again = new Date();
    await ingestBatch(sut.ingestStores(), [message(device.id, { status: 'running' }, again)]);
    expect((await stateRow(device.id))?.last_state_at).toEqual(again);
  });

  it('stores events, states and dead letters of one batch together', async () => {
    const [device] = await sut.provision(1);
    if (!device) throw new Error('nothing provisioned');
    const now = new Date();
    const result = await ingestBatch(sut.ingestStores(), [
      message(device.id, { status: 'running' }, now),
      message(device.id, { status: 'unplugged' }, now),
      {
        topic: `devices/${device.id}/events`,
        payload: Buffer.from(JSON.stringify({ id: 'mixed-1', type: 'cycle.started' })),
        receivedAt: now,
      },
    ]);
    expect(result).toEqual({ stored: 1, duplicates: 0, deadLettered: 1 });
    expect(await stateRow(device.id)).toMatchObject({ last_state: { status: 'running' } });
  });
});
