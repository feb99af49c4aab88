import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type RunningBroker } from '../src/app.js';
import { createCa, createCrl, issueDevice, type TestCa, type TestDevice } from './pki.js';
import { startStandIn, type StandIn } from './webhook-stand-in.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/9';

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = tcpConnect(Number(port || 6379), hostname);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

// Production mode keeps sessions in Redis; the machine's Redis serves this test when it runs one.
describe.skipIf(!(await reachable(redisUrl)))('persistence in Redis (production mode)', () => {
  let ca: TestCa;
  let d1: TestDevice;
  let standIn: StandIn;
  let dataDir: string;

  beforeAll(async () => {
    ca = await createCa();
    d1 = await issueDevice(ca, 'D1');
    standIn = await startStandIn(ca.pem, await createCrl(ca, []));
    dataDir = await mkdtemp(join(tmpdir(), 'spincycle-broker-redis-'));
  });

  afterAll(async () => {
    await standIn?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const startBroker = () =>
    start({
      LOG_LEVEL: 'silent',
      DATA_DIR: dataDir,
      HTTP_PORT: '0',
      MQTTS_PORT: '0',
      WSS_PORT: '0',
      REDIS_URL: redisUrl,
      DEVICE_CA_URL: `${standIn.url}/ca`,
      DEVICE_CRL_URL: `${standIn.url}/crl.pem`,
      WEBHOOK_URL: `${standIn.url}/webhooks/vernemq`,
    });

  function connected(client: MqttClient): Promise<MqttClient> {
    return new Promise((resolve, reject) => {
      client.once('connect', () => resolve(client));
      client.once('error', reject);
    });
  }

  const app = (broker: RunningBroker, clean: boolean) =>
    connected(
      mqtt.connect(`${broker.endpoints.wss}/mqtt`, {
        ca: broker.serverCertificate,
        clientId: 'alice',
        username: 'alice',
        password: 'alice-token',
        clean,
        reconnectPeriod: 0,
      }),
    );

  it('delivers a QoS 1 message queued for an offline persistent session after a broker restart', async () => {
    const marker = randomUUID();
    const first = await startBroker();
    try {
      const alice = await app(first, false);
      await alice.subscribeAsync('devices/D1/state', { qos: 1 });
      await alice.endAsync();
      const device = await connected(
        mqtt.connect(first.endpoints.mqtts, {
          ca: first.serverCertificate,
          cert: d1.cert,
          key: d1.key,
          clientId: 'D1',
          username: 'D1',
          password: 'd1-secret',
          reconnectPeriod: 0,
        }),
      );
      await device.publishAsync('devices/D1/state', marker, { qos: 1 });
      await device.publishAsync('devices/D1/state', `retained ${marker}`, { qos: 1, retain: true });
      await device.endAsync();
    } finally {
      await first.close();
    }

    const second = await startBroker();
    try {
      const alice = await app(second, false);
      // Earlier runs may have left messages in the session; wait for this run's.
      const received = await new Promise<{ topic: string; payload: string }>((resolve) => {
        alice.on('message', (topic, payload) => {
          if (payload.toString() === marker) resolve({ topic, payload: payload.toString() });
        });
      });
      expect(received).toEqual({ topic: 'devices/D1/state', payload: marker });
      await alice.endAsync();

      // The device's last state is retained across the restart for a new subscriber.
      const fresh = await app(second, true);
      const retained = new Promise<string>((resolve) =>
        fresh.on('message', (_t, p) => resolve(p.toString())),
      );
      await fresh.subscribeAsync('devices/D1/state', { qos: 1 });
      expect(await retained).toBe(`retained ${marker}`);
      await fresh.endAsync();
      // Leave no session behind in the shared Redis database.
      await (await app(second, true)).endAsync();
    } finally {
      await second.close();
    }
  });
});
