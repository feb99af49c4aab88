import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { createLogger } from '@spincycle/common';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventMessage, IngestResult } from '../src/events/event-ingest.js';
import { EventIngester } from '../src/events/event-ingester.js';

/**
 * The broker's side of the ingester's session, from MQTT 3.1.1: CONNACK, SUBACK granting QoS 1,
 * PUBLISH at QoS 1 when a test says so, and every PUBACK the ingester sends, in order.
 */
class BrokerSide {
  readonly acks: number[] = [];
  private connection: Socket | undefined;
  private subscriptions = 0;
  private readonly waiting: { count: number; resolve: () => void }[] = [];
  private readonly sessions: { count: number; resolve: () => void }[] = [];
  readonly server: Server;

  constructor() {
    this.server = createServer((socket) => {
      this.connection = socket;
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on('packet', (packet: Packet) => {
        if (packet.cmd === 'connect') {
          socket.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
        } else if (packet.cmd === 'subscribe') {
          const granted = packet.subscriptions.map(() => 1 as const);
          socket.write(mqttPacket.generate({ cmd: 'suback', messageId: packet.messageId, granted }));
          this.subscriptions++;
          for (const w of this.sessions.filter((w) => this.subscriptions >= w.count)) {
            this.sessions.splice(this.sessions.indexOf(w), 1);
            w.resolve();
          }
        } else if (packet.cmd === 'puback' && packet.messageId !== undefined) {
          this.acks.push(packet.messageId);
          for (const w of this.waiting.filter((w) => this.acks.length >= w.count)) {
            this.waiting.splice(this.waiting.indexOf(w), 1);
            w.resolve();
          }
        }
      });
      socket.on('data', (chunk: Buffer) => parser.parse(chunk));
      socket.on('error', () => undefined);
    });
  }

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `mqtt://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  /** Resolves once the ingester has subscribed `count` times (once per session). */
  subscribed(count: number): Promise<void> {
    if (this.subscriptions >= count) return Promise.resolve();
    return new Promise((resolve) => this.sessions.push({ count, resolve }));
  }

  /** Sends these messages in one write, once the ingester has subscribed. */
  async deliver(messageIds: number[]): Promise<void> {
    await this.subscribed(1);
    const packets = messageIds.map((messageId) =>
      mqttPacket.generate({
        cmd: 'publish',
        qos: 1,
        dup: false,
        retain: false,
        messageId,
        topic: 'devices/D1/events',
        payload: JSON.stringify({ id: `e-${messageId}`, type: 'cycle.progress' }),
      }),
    );
    this.connection?.write(Buffer.concat(packets));
  }

  acked(count: number): Promise<void> {
    if (this.acks.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ count, resolve }));
  }

  close(): Promise<void> {
    this.connection?.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A store whose batches are committed when the test says so, or at once after `commitAll`. */
class HeldStore {
  readonly batches: { ids: string[]; commit: () => void; fail: () => void }[] = [];
  private arrived: (() => void)[] = [];
  private holding = true;

  commitAll(): void {
    this.holding = false;
    for (const batch of this.batches) batch.commit();
  }

  readonly store = (messages: readonly EventMessage[]): Promise<IngestResult> =>
    new Promise((resolve, reject) => {
      const ids = messages.map((m) => (JSON.parse(m.payload.toString()) as { id: string }).id);
      const commit = () => resolve({ stored: messages.length, duplicates: 0, deadLettered: 0 });
      this.batches.push({ ids, commit, fail: () => reject(new Error('database unavailable')) });
      if (!this.holding) commit();
      for (const resolveArrived of this.arrived.splice(0)) resolveArrived();
    });

  /** Resolves once `count` batches have been handed to the store. */
  async received(count: number): Promise<void> {
    while (this.batches.length < count) await new Promise<void>((resolve) => this.arrived.push(resolve));
  }
}

describe('the event ingester', () => {
  let broker: BrokerSide;
  let ingester: EventIngester | undefined;

  afterEach(async () => {
    held.commitAll();
    await ingester?.stop();
    await broker.close();
  });

  let held: HeldStore;
  const start = async (batchSize: number) => {
    broker = new BrokerSide();
    held = new HeldStore();
    ingester = new EventIngester(
      {
        url: await broker.listen(),
        clientId: 'device-service:ingest-test',
        username: 'device-service',
        password: 'secret',
        batchSize,
        batchWaitMs: 0,
        keepaliveSeconds: 30,
        reconnectMs: 50,
      },
      held.store,
      createLogger({ service: 'test', level: 'silent' }),
    );
    ingester.start();
  };

  it('acknowledges every message of a batch once it is committed, in the order received', async () => {
    await start(10);
    await broker.deliver([11, 12, 13]);
    await held.received(1);
    expect(held.batches[0]?.ids).toEqual(['e-11', 'e-12', 'e-13']);
    expect(broker.acks).toEqual([]);
    held.batches[0]?.commit();
    await broker.acked(3);
    expect(broker.acks).toEqual([11, 12, 13]);
  });

  it('hands the store the next batch while one commits, and acknowledges them in order', async () => {
    await start(2);
    await broker.deliver([21, 22, 23, 24]);
    await held.received(2);
    expect(held.batches.map((b) => b.ids)).toEqual([
      ['e-21', 'e-22'],
      ['e-23', 'e-24'],
    ]);
    // Committed first, the later batch is acknowledged only after the one before it.
    held.batches[1]?.commit();
    held.batches[0]?.commit();
    await broker.acked(4);
    expect(broker.acks).toEqual([21, 22, 23, 24]);
  });

  it('acknowledges neither a batch it could not store nor the next, and connects again to have them resent', async () => {
    await start(2);
    await broker.deliver([31, 32, 33, 34]);
    await held.received(2);
    held.batches[0]?.fail();
    held.batches[1]?.commit();
    await broker.subscribed(2);
    expect(broker.acks).toEqual([]);
  });
});
