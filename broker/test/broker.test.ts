import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCa, createCrl, issueDevice, type TestCa, type TestDevice } from './pki.js';
import { ADMIN_TOKEN, startHarness, type Harness } from './harness.js';

let h: Harness;
let foreignCa: TestCa;
let d1: TestDevice;
let ca: TestCa;

beforeAll(async () => {
  h = await startHarness({ WEBHOOK_TIMEOUT_MS: '300', MAX_PUBLISH_PER_SECOND: '5' });
  ({ ca, d1 } = h);
  foreignCa = await createCa('CN=Someone Else CA');
});

afterAll(async () => {
  await h?.close();
});

afterEach(async () => {
  h.standIn.failWith = undefined;
  h.standIn.delayMs = 0;
  h.standIn.maxAge = undefined;
  await h.endClients();
});

const connectDevice: Harness['connectDevice'] = (device, options) => h.connectDevice(device, options);
const connectApp: Harness['connectApp'] = (user, token, options) => h.connectApp(user, token, options);

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${h.broker.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name) && l.includes(labels));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('device listener (mutual TLS)', () => {
  it('admits a device with a certificate from the device CA and tells the webhook who it is', async () => {
    await connectDevice(d1);
    const register = h.standIn.calls.filter((c) => c.hook === 'auth_on_register').at(-1)?.body;
    expect(register).toMatchObject({
      username: 'D1',
      password: 'd1-secret',
      client_id: 'D1',
      mountpoint: '',
      clean_session: true,
      listener_type: 'mqtts',
      peer_addr: '127.0.0.1',
    });
    expect(Buffer.from(String(register?.client_cert), 'base64').length).toBeGreaterThan(100);
  });

  it('refuses a connection without a client certificate at the handshake', async () => {
    await expect(connectDevice(undefined)).rejects.toThrow();
  });

  it('refuses a certificate from a foreign CA', async () => {
    const stranger = await issueDevice(foreignCa, 'D1');
    await expect(connectDevice(stranger)).rejects.toThrow();
  });

  it('refuses an expired certificate', async () => {
    const expired = await issueDevice(ca, 'D1', {
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    await expect(connectDevice(expired)).rejects.toThrow();
  });

  it('refuses a wrong password with CONNACK 5 even with a valid certificate', async () => {
    await expect(connectDevice(d1, { password: 'wrong' })).rejects.toMatchObject({ code: 5 });
  });

  it('refuses every connect while cert-service fails (fail closed) and counts it', async () => {
    h.standIn.failWith = 500;
    const before = await metric('mqtt_refusals_total', 'reason="webhook_status"');
    await expect(connectDevice(d1)).rejects.toMatchObject({ code: 5 });
    expect(await metric('mqtt_refusals_total', 'reason="webhook_status"')).toBe(before + 1);
  });

  it('refuses when cert-service answers too late', async () => {
    h.standIn.delayMs = 1000;
    await expect(connectDevice(d1)).rejects.toMatchObject({ code: 5 });
    expect(await metric('mqtt_refusals_total', 'reason="webhook_timeout"')).toBeGreaterThan(0);
  });
});

describe('publish and subscribe', () => {
  it("delivers a device's state to its owner's app over WSS, with payloads base64 in the webhook", async () => {
    const device = await connectDevice(d1);
    const alice = await connectApp('alice', 'alice-token');
    const granted = await alice.subscribeAsync('devices/D1/state', { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    const received = new Promise<string>((resolve) =>
      alice.once('message', (_t, payload) => resolve(payload.toString())),
    );
    await device.publishAsync('devices/D1/state', '{"program":"cotton"}', { qos: 1 });
    expect(await received).toBe('{"program":"cotton"}');
    const publish = h.standIn.calls.filter((c) => c.hook === 'auth_on_publish').at(-1)?.body;
    expect(publish).toMatchObject({ username: 'D1', topic: 'devices/D1/state', qos: 1, retain: false });
    expect(Buffer.from(String(publish?.payload), 'base64').toString()).toBe('{"program":"cotton"}');
  });

  it("refuses a stranger's subscription with QoS 128", async () => {
    const bob = await connectApp('bob', 'bob-token');
    // mqtt.js reports a SUBACK refusal as an error carrying the packet.
    await expect(bob.subscribeAsync('devices/D1/state', { qos: 1 })).rejects.toMatchObject({
      packet: { granted: [128] },
    });
  });

  it('refuses an app whose token is not valid', async () => {
    await expect(connectApp('alice', 'stolen')).rejects.toMatchObject({ code: 5 });
  });

  it('disconnects a device publishing where it may not', async () => {
    const device = await connectDevice(d1);
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    device.publish('devices/D2/state', 'x', { qos: 1 });
    await closed;
  });

  it('disconnects a client that publishes faster than its rate', async () => {
    const device = await connectDevice(d1);
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    for (let i = 0; i < 40; i++) device.publish('devices/D1/events', `{"n":${i}}`, { qos: 0 });
    await closed;
    expect(await metric('mqtt_refusals_total', 'reason="rate_limited"')).toBeGreaterThan(0);
  });
});

describe('live revocation', () => {
  it('drops a live session whose certificate is revoked, and refuses it afterwards', async () => {
    const d2 = await issueDevice(ca, 'D2');
    const device = await connectDevice(d2, { clientId: 'D2', password: 'd2-secret' });
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    h.standIn.crl = await createCrl(ca, [d2.serial]);
    const res = await fetch(`${h.broker.url}/admin/v1/trust/refresh`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(await res.json()).toEqual({ disconnected: 1 });
    await closed;
    await expect(connectDevice(d2, { clientId: 'D2', password: 'd2-secret' })).rejects.toThrow();
    h.standIn.crl = await createCrl(ca, []);
    await fetch(`${h.broker.url}/admin/v1/trust/refresh`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
  });

  it('disconnects the sessions of a user on request', async () => {
    const alice = await connectApp('alice', 'alice-token');
    const closed = new Promise<void>((resolve) => alice.once('close', () => resolve()));
    const res = await fetch(`${h.broker.url}/admin/v1/disconnect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ usernames: ['alice'] }),
    });
    expect(await res.json()).toEqual({ disconnected: 1 });
    await closed;
  });

  it.each([
    ['no token', undefined, 401],
    ['a wrong token', 'Bearer nope', 401],
  ])('refuses admin calls with %s', async (_what, authorization, status) => {
    const res = await fetch(`${h.broker.url}/admin/v1/disconnect`, {
      method: 'POST',
      headers: authorization ? { authorization } : {},
      body: '{}',
    });
    expect(res.status).toBe(status);
  });

  it('answers a malformed admin body with 400 naming the field', async () => {
    const res = await fetch(`${h.broker.url}/admin/v1/disconnect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ usernames: 'alice' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/^usernames:/);
  });
});

describe('webhook answer cache (cache-control: max-age)', () => {
  const publishCalls = () => h.standIn.calls.filter((c) => c.hook === 'auth_on_publish').length;
  const admin = (path: string, body: unknown) =>
    fetch(`${h.broker.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify(body),
    });

  it('reuses an allowed publish decision until cert-service has it dropped', async () => {
    h.standIn.maxAge = 60;
    const device = await connectDevice(d1, { clientId: 'D1', username: 'D1' });
    const before = publishCalls();
    for (let i = 0; i < 3; i++) await device.publishAsync('devices/D1/state', `{"n":${i}}`, { qos: 1 });
    expect(publishCalls()).toBe(before + 1);

    const res = await admin('/admin/v1/cache/clear', { usernames: ['D1'] });
    expect(((await res.json()) as { dropped: number }).dropped).toBeGreaterThan(0);
    await device.publishAsync('devices/D1/state', '{"n":3}', { qos: 1 });
    expect(publishCalls()).toBe(before + 2);
  });

  it('never caches a refusal', async () => {
    h.standIn.maxAge = 60;
    await expect(connectDevice(d1, { password: 'wrong' })).rejects.toMatchObject({ code: 5 });
    const registers = h.standIn.calls.filter((c) => c.hook === 'auth_on_register').length;
    await expect(connectDevice(d1, { password: 'wrong' })).rejects.toMatchObject({ code: 5 });
    expect(h.standIn.calls.filter((c) => c.hook === 'auth_on_register').length).toBe(registers + 1);
  });
});
