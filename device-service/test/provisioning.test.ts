import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MqttClient } from 'mqtt';
import { DeviceServiceUnderTest, TECHNICIAN_SCOPES } from './support/device-service.js';

const engine = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite';
const WAIT = { timeout: 10_000, interval: 50 };
const TTL_SECONDS = 600;
let sut: DeviceServiceUnderTest;

beforeAll(async () => {
  sut = await DeviceServiceUnderTest.start(
    'provisioning',
    { PROVISIONING_TOKEN_TTL_SECONDS: String(TTL_SECONDS) },
    { broker: true },
  );
  sut.directory.accounts.set('tech-prov@example.test', { id: 'tech-prov', roles: ['technician'] });
});
afterAll(() => sut.stop());

interface Status {
  status: 'none' | 'pending' | 'connected' | 'expired';
  expiresAt: string | null;
  connectedAt: string | null;
}

const issue = async (owner: string, deviceId: string): Promise<{ token: string; expiresAt: string }> => {
  const answer = await sut.request('POST', `/devices/${deviceId}/provisioning`, { as: owner });
  expect(answer.status).toBe(201);
  expect(answer.headers.get('cache-control')).toBe('no-store');
  return answer.body as { token: string; expiresAt: string };
};

const statusOf = async (owner: string, deviceId: string): Promise<Status> => {
  const answer = await sut.request('GET', `/devices/${deviceId}/provisioning`, { as: owner });
  expect(answer.status).toBe(200);
  return answer.body as Status;
};

/** The device, online with its new Wi-Fi, presents a token as its first event. */
const present = (machine: MqttClient, deviceId: string, eventId: string, token: string) =>
  machine.publishAsync(
    `devices/${deviceId}/events`,
    JSON.stringify({ id: eventId, type: 'device.provisioned', data: { token } }),
    { qos: 1 },
  );

/** The stored provisioning event, once the ingester has committed it. */
const storedEvent = async (owner: string, deviceId: string, eventId: string): Promise<unknown> => {
  let payload: unknown;
  await vi.waitFor(async () => {
    const answer = await sut.request('GET', `/devices/${deviceId}/events?limit=500`, { as: owner });
    const event = (answer.body as { events: { eventId: string; payload: unknown }[] }).events.find(
      (e) => e.eventId === eventId,
    );
    expect(event).toBeDefined();
    payload = event?.payload;
  }, WAIT);
  return payload;
};

/** Every table a token could have been written to, by any column. */
const tablesHolding = async (token: string): Promise<string[]> => {
  const found: string[] = [];
  for (const table of ['events', 'dead_letters', 'provisioning_sessions', 'devices', 'audit_log']) {
    const [row]: { n: number }[] = await sut.database.dataSource.query(
      `SELECT count(*)::int AS n FROM ${table} t WHERE position($1 IN row_to_json(t)::text) > 0`,
      [token],
    );
    if ((row?.n ?? 0) > 0) found.push(table);
  }
  // Dead letters keep raw bytes, which row_to_json shows as hex.
  const [dead]: { n: number }[] = await sut.database.dataSource.query(
    "SELECT count(*)::int AS n FROM dead_letters WHERE position(convert_to($1, 'UTF8') IN payload) > 0",
    [token],
  );
  if ((dead?.n ?? 0) > 0) found.push('dead_letters (payload)');
  return found;
};

describe(`the first-connect provisioning token (${engine})`, () => {
  it('has no session before the owner asks for a token', async () => {
    const washer = await sut.claimedDevice('owner-none');
    expect(await statusOf('owner-none', washer.id)).toEqual({
      status: 'none',
      expiresAt: null,
      connectedAt: null,
    });
  });

  it('is issued once to the owner, short-lived, and kept only as a keyed hash', async () => {
    const washer = await sut.claimedDevice('owner-issue');
    const before = Date.now();
    const { token, expiresAt } = await issue('owner-issue', washer.id);
    expect(Buffer.from(token, 'base64url')).toHaveLength(16);
    expect(Date.parse(expiresAt) - before).toBeGreaterThanOrEqual(TTL_SECONDS * 1000 - 1000);
    expect(Date.parse(expiresAt) - before).toBeLessThan(TTL_SECONDS * 1000 + 60_000);
    expect(await statusOf('owner-issue', washer.id)).toEqual({
      status: 'pending',
      expiresAt,
      connectedAt: null,
    });
    expect(await tablesHolding(token)).toEqual([]);
    // The probe does find what is there.
    expect(await tablesHolding(washer.serial)).toEqual(['devices']);
  });

  it('connects the session when the device presents the token, and never stores the token', async () => {
    const owner = 'owner-connect';
    const washer = await sut.claimedDevice(owner);
    const { token } = await issue(owner, washer.id);
    const machine = await sut.connectDevice(washer.id, washer.mqttPassword);
    await present(machine, washer.id, 'first-connect', token);

    await vi.waitFor(async () => expect((await statusOf(owner, washer.id)).status).toBe('connected'), WAIT);
    const connected = await statusOf(owner, washer.id);
    expect(Date.parse(connected.connectedAt ?? '')).toBeLessThan(Date.parse(connected.expiresAt ?? ''));
    expect(await storedEvent(owner, washer.id, 'first-connect')).toEqual({ accepted: true });

    // Spent: presented again, it is refused and the session keeps its first connection.
    await present(machine, washer.id, 'second-connect', token);
    expect(await storedEvent(owner, washer.id, 'second-connect')).toEqual({ accepted: false });
    expect(await statusOf(owner, washer.id)).toEqual(connected);

    // A malformed provisioning event is a dead letter, without its token.
    await machine.publishAsync(
      `devices/${washer.id}/events`,
      JSON.stringify({ id: 'malformed', type: 'device.provisioned', data: { token }, extra: true }),
      { qos: 1 },
    );
    await vi.waitFor(async () => {
      const dead: { payload: Buffer }[] = await sut.database.dataSource.query(
        'SELECT payload FROM dead_letters WHERE topic = $1',
        [`devices/${washer.id}/events`],
      );
      expect(dead.map((d) => JSON.parse(d.payload.toString()))).toEqual([
        { id: 'malformed', type: 'device.provisioned', data: { token: '[redacted]' }, extra: true },
      ]);
    }, WAIT);
    expect(await tablesHolding(token)).toEqual([]);
    await machine.endAsync();
  });

  it('stays pending when the device presents a wrong token', async () => {
    const owner = 'owner-wrong';
    const washer = await sut.claimedDevice(owner);
    const { token, expiresAt } = await issue(owner, washer.id);
    const machine = await sut.connectDevice(washer.id, washer.mqttPassword);
    await present(
      machine,
      washer.id,
      'wrong-token',
      `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`,
    );
    expect(await storedEvent(owner, washer.id, 'wrong-token')).toEqual({ accepted: false });
    // No token at all is refused the same way.
    await machine.publishAsync(
      `devices/${washer.id}/events`,
      JSON.stringify({ id: 'no-token', type: 'device.provisioned', data: {} }),
      { qos: 1 },
    );
    expect(await storedEvent(owner, washer.id, 'no-token')).toEqual({ accepted: false });
    expect(await statusOf(owner, washer.id)).toEqual({ status: 'pending', expiresAt, connectedAt: null });
    await machine.endAsync();
  });

  it('is refused once expired, and the session says so', async () => {
    const owner = 'owner-expired';
    const washer = await sut.claimedDevice(owner);
    const { token } = await issue(owner, washer.id);
    await sut.database.dataSource.query(
      `UPDATE provisioning_sessions SET expires_at = now() - interval '1 second' WHERE device_id = $1`,
      [washer.id],
    );
    expect((await statusOf(owner, washer.id)).status).toBe('expired');
    const machine = await sut.connectDevice(washer.id, washer.mqttPassword);
    await present(machine, washer.id, 'too-late', token);
    expect(await storedEvent(owner, washer.id, 'too-late')).toEqual({ accepted: false });
    expect(await statusOf(owner, washer.id)).toMatchObject({ status: 'expired', connectedAt: null });

    // A fresh token starts a new session, which the device can connect.
    const fresh = await issue(owner, washer.id);
    expect((await statusOf(owner, washer.id)).status).toBe('pending');
    await present(machine, washer.id, 'in-time', fresh.token);
    await vi.waitFor(async () => expect((await statusOf(owner, washer.id)).status).toBe('connected'), WAIT);
    await machine.endAsync();
  });

  it('is replaced by the next one issued: only the newest token connects', async () => {
    const owner = 'owner-replace';
    const washer = await sut.claimedDevice(owner);
    const old = await issue(owner, washer.id);
    const current = await issue(owner, washer.id);
    expect(current.token).not.toBe(old.token);
    const rows: unknown[] = await sut.database.dataSource.query(
      'SELECT 1 FROM provisioning_sessions WHERE device_id = $1',
      [washer.id],
    );
    expect(rows).toHaveLength(1);
    const machine = await sut.connectDevice(washer.id, washer.mqttPassword);
    await present(machine, washer.id, 'old-token', old.token);
    expect(await storedEvent(owner, washer.id, 'old-token')).toEqual({ accepted: false });
    expect((await statusOf(owner, washer.id)).status).toBe('pending');
    await present(machine, washer.id, 'new-token', current.token);
    expect(await storedEvent(owner, washer.id, 'new-token')).toEqual({ accepted: true });
    expect((await statusOf(owner, washer.id)).status).toBe('connected');
    await machine.endAsync();
  });

  it('answers a stranger and a technician 404 on both routes, and changes nothing', async () => {
    const owner = 'owner-guarded';
    const washer = await sut.claimedDevice(owner);
    const { expiresAt } = await issue(owner, washer.id);
    const grant = await sut.request('POST', `/devices/${washer.id}/grants`, {
      as: owner,
      body: { email: 'tech-prov@example.test', scope: 'control' },
    });
    expect(grant.status).toBe(201);
    const technician = { scopes: [...TECHNICIAN_SCOPES, 'device.claim'], roles: ['technician'] };
    for (const method of ['POST', 'GET']) {
      const stranger = await sut.request(method, `/devices/${washer.id}/provisioning`, {
        as: 'stranger-prov',
      });
      expect(stranger).toMatchObject({ status: 404, body: { message: 'device not found' } });
      const tech = await sut.request(method, `/devices/${washer.id}/provisioning`, {
        as: 'tech-prov',
        token: technician,
      });
      expect(tech.status).toBe(404);
      const missing = await sut.request(method, '/devices/no-such-device/provisioning', { as: owner });
      expect(missing.body).toEqual(stranger.body);
    }
    // Each route demands its own scope, whatever the proxy's rule says.
    const noClaim = await sut.request('POST', `/devices/${washer.id}/provisioning`, {
      as: owner,
      token: { scopes: ['device.read'] },
    });
    expect(noClaim.status).toBe(403);
    const noRead = await sut.request('GET', `/devices/${washer.id}/provisioning`, {
      as: owner,
      token: { scopes: ['device.claim'] },
    });
    expect(noRead.status).toBe(403);
    expect(await statusOf(owner, washer.id)).toEqual({ status: 'pending', expiresAt, connectedAt: null });
  });

  it('ends with the release of the device: the next owner starts from nothing', async () => {
    const owner = 'owner-release';
    const washer = await sut.claimedDevice(owner);
    const { token } = await issue(owner, washer.id);
    const released = await sut.request('DELETE', `/devices/${washer.id}/claim`, { as: owner });
    expect(released.status).toBe(200);
    const rows: unknown[] = await sut.database.dataSource.query(
      'SELECT 1 FROM provisioning_sessions WHERE device_id = $1',
      [washer.id],
    );
    expect(rows).toEqual([]);
    expect((await sut.request('GET', `/devices/${washer.id}/provisioning`, { as: owner })).status).toBe(404);

    const next = 'owner-next';
    const claimed = await sut.request('POST', '/claims', {
      as: next,
      body: { serial: washer.serial, claimCode: (released.body as { claimCode: string }).claimCode },
    });
    expect(claimed.status).toBe(201);
    expect((await statusOf(next, washer.id)).status).toBe('none');
    // The previous owner's token connects nothing for the next one.
    const machine = await sut.connectDevice(washer.id, washer.mqttPassword);
    await present(machine, washer.id, 'stale-token', token);
    expect(await storedEvent(next, washer.id, 'stale-token')).toEqual({ accepted: false });
    expect((await statusOf(next, washer.id)).status).toBe('none');
    await machine.endAsync();
  });
});
