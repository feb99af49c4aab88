import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCa, createCrl, issueDevice, type TestCa, type TestDevice } from './pki.js';
import { ADMIN_TOKEN, startHarness, type Harness } from './harness.js';
import { rawDeviceSession } from './raw-client.js';

const MAX_INFLIGHT = 4;

let h: Harness;
let foreignCa: TestCa;
let d1: TestDevice;
let ca: TestCa;

beforeAll(async () => {
  h = await startHarness({
    WEBHOOK_TIMEOUT_MS: '300',
    MAX_PUBLISH_PER_SECOND: '5',
    MAX_INFLIGHT_MESSAGES: String(MAX_INFLIGHT),
  });
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
  h.standIn.publishModifiers = undefined;
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
    // As VerneMQ ≥ 2.1 forwards it (forward_connection_opts): base64 of the DER certificate.
    expect(register?.client_cert).toBe(new X509Certificate(d1.cert).raw.toString('base64'));
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

  it('applies the topic, payload and retain rewrites of an allowed publish, and keeps its QoS', async () => {
    h.standIn.publishModifiers = {
      topic: 'devices/D1/state',
      payload: Buffer.from('{"rewritten":true}').toString('base64'),
      qos: 1,
      retain: true,
    };
    const device = await connectDevice(d1);
    const alice = await connectApp('alice', 'alice-token');
    await alice.subscribeAsync('devices/D1/state', { qos: 1 });
    const live = new Promise<{ topic: string; payload: string; qos: number }>((resolve) =>
      alice.once('message', (topic, payload, packet) =>
        resolve({ topic, payload: payload.toString(), qos: packet.qos }),
      ),
    );
    await device.publishAsync('devices/D1/events', '{"as":"sent"}', { qos: 0 });
    // The QoS rewrite is not applied: the device sent QoS 0 and must not be answered as for QoS 1.
    expect(await live).toEqual({ topic: 'devices/D1/state', payload: '{"rewritten":true}', qos: 0 });
    expect(device.connected).toBe(true);
    // Retained by the rewrite: a later subscriber is handed it at once.
    await alice.endAsync();
    const later = await connectApp('alice', 'alice-token');
    const retained = new Promise<{ payload: string; retain: boolean }>((resolve) =>
      later.once('message', (_topic, payload, packet) =>
        resolve({ payload: payload.toString(), retain: packet.retain }),
      ),
    );
    await later.subscribeAsync('devices/D1/state', { qos: 1 });
    expect(await retained).toEqual({ payload: '{"rewritten":true}', retain: true });
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

describe('session notifications (on_register, on_subscribe, on_client_gone)', () => {
  const reference = (hook: string) =>
    Object.keys(
      JSON.parse(
        readFileSync(
          new URL(`../../../shared/reference/vernemq/${hook}.request.json`, import.meta.url),
          'utf8',
        ),
      ) as object,
    ).sort();
  /** The client's on_register and on_client_* hooks, from its first on_register after `from`. */
  const lifecycleOf = (clientId: string, from: number) => () => {
    const hooks = h.standIn.calls
      .slice(from)
      .filter((c) => /^on_(register|client_)/.test(c.hook) && c.body.client_id === clientId)
      .map((c) => c.hook);
    // An earlier test's session of the same client may still be reported gone.
    const first = hooks.indexOf('on_register');
    return first < 0 ? [] : hooks.slice(first);
  };

  it('sends on_register, in VerneMQ shape, once a client is connected, and on_client_gone when it leaves', async () => {
    const lifecycle = lifecycleOf('D1', h.standIn.calls.length);
    const device = await connectDevice(d1);
    await h.standIn.until(() => lifecycle().length > 0);
    const registered = h.standIn.calls.findLast((c) => c.hook === 'on_register')?.body ?? {};
    expect(Object.keys(registered).sort()).toEqual(reference('on_register'));
    expect(registered).toMatchObject({
      peer_addr: '127.0.0.1',
      username: 'D1',
      mountpoint: '',
      client_id: 'D1',
    });
    await device.endAsync();
    await h.standIn.until(() => lifecycle().length > 1);
    expect(lifecycle()).toEqual(['on_register', 'on_client_gone']);
  });

  it('keeps a device online through a client-id takeover: the replaced session is not reported gone', async () => {
    const lifecycle = lifecycleOf('D1', h.standIn.calls.length);
    const registered = () => lifecycle().filter((hook) => hook === 'on_register').length;
    const first = await connectDevice(d1);
    await h.standIn.until(() => registered() === 1);
    const replaced = new Promise<void>((resolve) => first.once('close', () => resolve()));
    const second = await connectDevice(d1);
    await replaced;
    await h.standIn.until(() => registered() === 2);
    expect(lifecycle()).toEqual(['on_register', 'on_register']);
    await second.endAsync();
    await h.standIn.until(() => lifecycle().includes('on_client_gone'));
    expect(lifecycle()).toEqual(['on_register', 'on_register', 'on_client_gone']);
  });

  it('reports each SUBSCRIBE with on_subscribe, a refused topic with QoS 128', async () => {
    const from = h.standIn.calls.length;
    const bob = await connectApp('bob', 'bob-token');
    await expect(bob.subscribeAsync('devices/D1/state', { qos: 1 })).rejects.toMatchObject({
      packet: { granted: [128] },
    });
    await h.standIn.until((calls) => calls.slice(from).some((c) => c.hook === 'on_subscribe'));
    const subscribed = h.standIn.calls.slice(from).find((c) => c.hook === 'on_subscribe')?.body ?? {};
    expect(Object.keys(subscribed).sort()).toEqual(reference('on_subscribe'));
    expect(subscribed).toEqual({
      username: 'bob',
      mountpoint: '',
      client_id: 'bob',
      topics: [{ topic: 'devices/D1/state', qos: 128 }],
    });
  });
});

describe('messages in flight (MAX_INFLIGHT_MESSAGES)', () => {
  const refusals = () => metric('mqtt_refusals_total', 'reason="inflight_exceeded"');
  const publish = (messageId: number, qos: 1 | 2) =>
    ({
      cmd: 'publish',
      topic: 'devices/D1/events',
      payload: Buffer.from(`{"n":${messageId}}`),
      qos,
      messageId,
      retain: false,
      dup: false,
    }) as const;

  it('disconnects a client with more QoS 1 publishes awaiting their answer than the limit', async () => {
    const before = await refusals();
    const session = await rawDeviceSession(h);
    // One write: the broker reads them together, before any authorization can have come back.
    session.write(...Array.from({ length: MAX_INFLIGHT + 1 }, (_, i) => publish(i + 1, 1)));
    await session.closed;
    expect(await refusals()).toBe(before + 1);
  });

  it('disconnects a client holding more QoS 2 publishes without PUBREL than the limit', async () => {
    const before = await refusals();
    const session = await rawDeviceSession(h);
    for (let id = 1; id <= MAX_INFLIGHT; id++) {
      session.write(publish(id, 2));
      expect(await session.next('pubrec')).toMatchObject({ messageId: id });
    }
    session.write(publish(MAX_INFLIGHT + 1, 2));
    await session.closed;
    expect(await refusals()).toBe(before + 1);
  });

  it('keeps a client that completes its exchanges, however many it sends in total', async () => {
    const session = await rawDeviceSession(h);
    for (let id = 1; id <= MAX_INFLIGHT * 2; id++) {
      session.write(publish(id, 2));
      await session.next('pubrec');
      session.write({ cmd: 'pubrel', messageId: id });
      expect(await session.next('pubcomp')).toMatchObject({ messageId: id });
    }
    await session.end();
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
