import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { eventually } from '@spincycle/common/testing';
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

interface Health {
  checks: Record<string, { status: string; error?: string }>;
}

/** A TCP relay to Redis that can cut every connection through it with a reset, as a failover does. */
async function startRelay(target: string) {
  const { hostname, port, pathname } = new URL(target);
  const clients = new Set<Socket>();
  let refusing = false;
  const server = createServer((client) => {
    if (refusing) return void client.resetAndDestroy();
    const upstream = tcpConnect(Number(port || 6379), hostname);
    clients.add(client);
    client.on('close', () => (clients.delete(client), upstream.destroy()));
    upstream.on('close', () => client.destroy());
    client.on('error', () => {});
    upstream.on('error', () => {});
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}${pathname}`,
    connections: () => clients.size,
    /** Resets every connection through it; while `refuse`, resets each new one too (Redis down). */
    reset: (refuse = false) => {
      refusing = refuse;
      for (const client of clients) client.resetAndDestroy();
    },
    close: () => {
      for (const client of clients) client.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
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

  const startBroker = (redis = redisUrl) =>
    start({
      LOG_LEVEL: 'silent',
      DATA_DIR: dataDir,
      HTTP_PORT: '0',
      MQTTS_PORT: '0',
      WSS_PORT: '0',
      REDIS_URL: redis,
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

  const readiness = async (broker: RunningBroker) => {
    const response = await fetch(`${broker.url}/health/ready`);
    return { status: response.status, redis: ((await response.json()) as Health).checks.redis };
  };

  const deviceD1 = (broker: RunningBroker) =>
    connected(
      mqtt.connect(broker.endpoints.mqtts, {
        ca: broker.serverCertificate,
        cert: d1.cert,
        key: d1.key,
        clientId: 'D1',
        username: 'D1',
        password: 'd1-secret',
        reconnectPeriod: 0,
      }),
    );

  it('rides out a reset of every Redis connection, and delivers again once they are back', async () => {
    const relay = await startRelay(redisUrl);
    const broker = await startBroker(relay.url);
    try {
      const alice = await app(broker, true);
      await alice.subscribeAsync('devices/D1/state', { qos: 1 });
      const device = await deviceD1(broker);
      const connections = relay.connections();
      expect(connections).toBeGreaterThan(0);
      expect(await readiness(broker)).toEqual({ status: 200, redis: { status: 'up' } });
      // Each connection sees ECONNRESET, and so does each attempt to reconnect while Redis is
      // down: error events the broker must log and report, not die of.
      relay.reset(true);
      await eventually(async () => (await readiness(broker)).status === 503, 'the broker reports Redis down');
      expect((await readiness(broker)).redis).toEqual({
        status: 'down',
        error: expect.stringMatching(/^no Redis connection for the .*persistence/),
      });
      relay.reset(false);
      await eventually(() => relay.connections() === connections, 'the broker reconnects to Redis');
      await eventually(async () => (await readiness(broker)).status === 200, 'the broker reports Redis back');
      // A message published before the bus has subscribed again is not delivered: publish until one is.
      const marker = randomUUID();
      let received = false;
      alice.on('message', (_topic, payload) => (received ||= payload.toString() === marker));
      await eventually(async () => {
        await device.publishAsync('devices/D1/state', marker, { qos: 1 });
        return received;
      }, 'a message through the reconnected bus');
      await Promise.all([alice.endAsync(), device.endAsync()]);
    } finally {
      await broker.close();
      await relay.close();
    }
  });

  it('stops while Redis is away, without waiting for it', async () => {
    const relay = await startRelay(redisUrl);
    try {
      const broker = await startBroker(relay.url);
      relay.reset(true);
      await eventually(async () => (await readiness(broker)).status === 503, 'the broker reports Redis down');
      // Bounded well below the shutdown timeout, which would otherwise end the process.
      const closed = await Promise.race([
        broker.close().then(() => 'closed'),
        new Promise((resolve) => setTimeout(resolve, 5_000, 'still closing after 5 s')),
      ]);
      expect(closed).toBe('closed');
    } finally {
      await relay.close();
    }
  });

  it('delivers a QoS 1 message queued for an offline persistent session after a broker restart', async () => {
    const marker = randomUUID();
    const first = await startBroker();
    try {
      const alice = await app(first, false);
      await alice.subscribeAsync('devices/D1/state', { qos: 1 });
      await alice.endAsync();
      const device = await deviceD1(first);
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
