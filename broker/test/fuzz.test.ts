import { once } from 'node:events';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHarness, type Harness } from './harness.js';
import { deviceSocket } from './raw-client.js';

const MAX_PACKET_BYTES = 4096;
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ MAX_PACKET_BYTES: String(MAX_PACKET_BYTES), WS_DEV_PORT: '0' });
});

afterAll(async () => {
  await h?.close();
});

/** Well-formed packets of every kind a client sends, as raw bytes, to be mangled below. */
const validPacket = fc.oneof(
  fc
    .record({ clientId: fc.string({ maxLength: 40 }), password: fc.string({ maxLength: 40 }) })
    .map(({ clientId, password }) =>
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepalive: 30,
        clientId,
        username: 'D1',
        password: Buffer.from(password),
      }),
    ),
  fc
    .record({
      topic: fc.string({ minLength: 1, maxLength: 80 }),
      payload: fc.uint8Array({ maxLength: 300 }),
      qos: fc.constantFrom(0, 1),
    })
    .map(({ topic, payload, qos }) =>
      mqttPacket.generate({
        cmd: 'publish',
        topic,
        payload: Buffer.from(payload),
        qos: qos as 0 | 1,
        retain: false,
        dup: false,
        ...(qos ? { messageId: 7 } : {}),
      }),
    ),
  fc
    .string({ minLength: 1, maxLength: 80 })
    .map((topic) =>
      mqttPacket.generate({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic, qos: 1 }] }),
    ),
  fc.constant(mqttPacket.generate({ cmd: 'pingreq' })),
);

/** Hostile input: flipped bytes, truncations, random noise, and headers announcing huge packets. */
const hostileBytes = fc.oneof(
  fc.tuple(validPacket, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([packet, at, value]) => {
    const copy = Buffer.from(packet);
    copy[at % copy.length] = value;
    return copy;
  }),
  fc.tuple(validPacket, fc.nat()).map(([packet, cut]) => packet.subarray(0, cut % packet.length)),
  fc.uint8Array({ minLength: 1, maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
  fc.constant(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])),
  fc.constant(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])),
);

function sendRaw(chunks: Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    const socket = deviceSocket(h);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, 100);
    socket.on('secureConnect', () => {
      for (const chunk of chunks) socket.write(chunk);
    });
    socket.on('error', done);
    socket.on('close', done);
  });
}

describe('hostile clients', () => {
  it('keeps serving other clients through thousands of malformed packets', async () => {
    const device = await h.connectDevice(h.d1, { clientId: 'D1', username: 'D1' });
    const alice = await h.connectApp('alice', 'alice-token');
    await alice.subscribeAsync('devices/D1/state', { qos: 0 });
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(hostileBytes, { minLength: 1, maxLength: 12 }), async (chunks) => {
        sent += chunks.length;
        await sendRaw(chunks);
      }),
      { numRuns: 250 },
    );
    expect(sent).toBeGreaterThan(1000);
    expect((await fetch(`${h.broker.url}/health/ready`)).status).toBe(200);
    // The hostile connections all used D1's identity: the legitimate device reconnects as D1 too.
    const again = device.connected ? device : await h.connectDevice(h.d1, { clientId: 'D1', username: 'D1' });
    const received = new Promise<string>((resolve) => alice.on('message', (_t, p) => resolve(p.toString())));
    await again.publishAsync('devices/D1/state', 'still alive', { qos: 0 });
    expect(await received).toBe('still alive');
  });

  const oversized = async () =>
    Number(
      /mqtt_refusals_total\{[^}]*reason="packet_too_large"[^}]*\} (\d+)/.exec(
        await (await fetch(`${h.broker.url}/metrics`)).text(),
      )?.[1] ?? 0,
    );

  it('disconnects a client announcing a packet above the size limit before it sends the body', async () => {
    const before = await oversized();
    await sendRaw([Buffer.from([0x30, 0x80, 0x80, 0x10])]);
    expect(await oversized()).toBeGreaterThan(before);
  });

  it.each(['wss', 'ws'] as const)(
    'disconnects a %s client whose packet, spread over frames each within bounds, outgrows the limit',
    async (listener) => {
      const before = await oversized();
      const url = listener === 'wss' ? h.broker.endpoints.wss : (h.broker.endpoints.ws ?? '');
      const socket = new WebSocket(`${url}/mqtt`, 'mqtt', { ca: h.broker.serverCertificate });
      await once(socket, 'open');
      const closed = once(socket, 'close');
      // PUBLISH announcing 1 MiB (remaining length 0x80 0x80 0x40), then its body 1 KiB a frame.
      socket.send(Buffer.from([0x30, 0x80, 0x80, 0x40]));
      const frame = Buffer.alloc(1024, 0x61);
      for (let sent = 0; sent < 64 * MAX_PACKET_BYTES && socket.readyState === WebSocket.OPEN; sent += 1024)
        socket.send(frame);
      await closed;
      expect(await oversized()).toBe(before + 1);
      expect((await fetch(`${h.broker.url}/health/ready`)).status).toBe(200);
      const alice = await h.connectApp('alice', 'alice-token');
      expect((await alice.subscribeAsync('devices/D1/state', { qos: 0 })).map((g) => g.qos)).toEqual([0]);
    },
  );
});
