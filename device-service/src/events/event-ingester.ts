import { connect as tcpConnect } from 'node:net';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { generate, parser, type Packet } from 'mqtt-packet';
import { createWebSocketStream, WebSocket } from 'ws';
import type { Logger } from '@spincycle/common';
import type { EventMessage, IngestResult } from './event-ingest.js';

export interface EventIngesterOptions {
  url: string;
  caFile?: string | undefined;
  /** Stable across restarts: the broker keeps the persistent session (and what it holds) under it. */
  clientId: string;
  username: string;
  password: string;
  batchSize: number;
  batchWaitMs: number;
  keepaliveSeconds: number;
  reconnectMs: number;
}

/** Events, and the devices' retained state, through the same session and the same batches. */
const TOPICS = ['devices/+/events', 'devices/+/state'];

interface Received extends EventMessage {
  messageId: number | undefined;
  connection: Duplex;
}

/** A batch handed to the store, acknowledged once it and every batch before it are stored. */
interface Batch {
  messages: Received[];
  stored: boolean;
  failed: boolean;
  settled: Promise<void>;
}

/**
 * Batches in the store's hands at once: one being written, the next being prepared (parsed,
 * serialised) meanwhile, and written beside it when it holds events only (EventsRepository.writeBatch).
 */
const BATCHES_IN_HAND = 2;

/**
 * Subscribes to `devices/+/events` and `devices/+/state` at QoS 1 through a persistent session
 * and acknowledges each message only after the batch holding it is committed. mqtt.js cannot do
 * this: it acknowledges a QoS 1 message before it reads the next one, which allows one message
 * per commit. This client speaks MQTT 3.1.1 through mqtt-packet (MQTT.js's own codec) and keeps
 * many messages in flight.
 * If a batch cannot be stored, the connection is dropped unacknowledged: the broker resends its
 * messages on reconnection, and the unique (device, event id) drops what was stored already.
 * PUBACKs go out in the order the messages came (MQTT 3.1.1 §4.6), batch after batch.
 */
export class EventIngester {
  private connection: Duplex | undefined;
  private pending: Received[] = [];
  /** Oldest first. */
  private inHand: Batch[] = [];
  private batchTimer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private markSubscribed: () => void = () => undefined;
  /** Settles once the broker has granted the subscription (the first time). */
  readonly subscribed = new Promise<void>((resolve) => {
    this.markSubscribed = resolve;
  });

  constructor(
    private readonly options: EventIngesterOptions,
    private readonly store: (messages: readonly EventMessage[]) => Promise<IngestResult>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.batchTimer);
    // What arrived is stored (and acknowledged) before the session ends.
    while (this.pending.length > 0 || this.inHand.length > 0) {
      this.handOver('waited');
      await Promise.all(this.inHand.map((batch) => batch.settled));
    }
    const connection = this.connection;
    if (connection) {
      connection.write(generate({ cmd: 'disconnect' }));
      connection.end();
    }
  }

  private open(): void {
    const connection = this.dial();
    this.connection = connection;
    const packets = parser({ protocolVersion: 4 });
    packets.on('packet', (packet: Packet) => this.onPacket(connection, packet));
    packets.on('error', (err: Error) => {
      this.logger.error({ err }, 'unreadable packet from the broker; reconnecting');
      connection.destroy();
    });
    connection.on('data', (chunk: Buffer) => packets.parse(chunk));
    connection.on('error', (err) => this.logger.warn({ err: err.message }, 'broker connection failed'));
    connection.on('close', () => this.onClose(connection));
    connection.write(
      generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: false,
        clientId: this.options.clientId,
        username: this.options.username,
        password: Buffer.from(this.options.password),
        keepalive: this.options.keepaliveSeconds,
      }),
    );
  }

  private dial(): Duplex {
    const url = new URL(this.options.url);
    const ca = this.options.caFile ? readFileSync(this.options.caFile) : undefined;
    switch (url.protocol) {
      case 'ws:':
      case 'wss:':
        return createWebSocketStream(new WebSocket(url, 'mqtt', ca ? { ca } : {}));
      case 'mqtts:':
        return tlsConnect({
          host: url.hostname,
          port: Number(url.port || 8883),
          servername: url.hostname,
          ca,
        });
      default:
        return tcpConnect({ host: url.hostname, port: Number(url.port || 1883) });
    }
  }

  private onPacket(connection: Duplex, packet: Packet): void {
    switch (packet.cmd) {
      case 'connack':
        if (packet.returnCode !== 0) {
          this.logger.error({ returnCode: packet.returnCode }, 'broker refused the event ingester');
          connection.destroy();
          return;
        }
        // Subscribing again on a present session is harmless and survives a broker that lost it.
        connection.write(
          generate({
            cmd: 'subscribe',
            messageId: 1,
            subscriptions: TOPICS.map((topic) => ({ topic, qos: 1 as const })),
          }),
        );
        this.keepaliveTimer = setInterval(
          () => connection.write(generate({ cmd: 'pingreq' })),
          (this.options.keepaliveSeconds * 1000) / 2,
        );
        return;
      case 'suback':
        if (packet.granted.some((qos) => typeof qos === 'number' && qos >= 128)) {
          this.logger.error(
            { topics: TOPICS, granted: packet.granted },
            'broker refused the ingestion subscription',
          );
          connection.destroy();
        } else {
          this.logger.info({ topics: TOPICS }, 'event ingestion subscribed');
          this.markSubscribed();
        }
        return;
      case 'publish':
        this.pending.push({
          topic: packet.topic,
          payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
          receivedAt: new Date(),
          retained: packet.retain,
          messageId: packet.qos > 0 ? packet.messageId : undefined,
          connection,
        });
        this.handOver('arrived');
        return;
      default:
        return;
    }
  }

  private onClose(connection: Duplex): void {
    if (this.connection !== connection) return;
    clearInterval(this.keepaliveTimer);
    this.connection = undefined;
    if (!this.stopped) this.reconnectTimer = setTimeout(() => this.open(), this.options.reconnectMs);
  }

  /**
   * Hands pending messages to the store while it holds fewer than BATCHES_IN_HAND batches: a full
   * batch at once; a smaller one once its first message has waited batchWaitMs, or once a batch
   * is stored and nothing else is in hand, so that what arrived during a commit goes with the next.
   */
  private handOver(why: 'arrived' | 'waited' | 'stored'): void {
    while (this.pending.length > 0 && this.inHand.length < BATCHES_IN_HAND) {
      const full = this.pending.length >= this.options.batchSize;
      if (!full && why === 'arrived') break;
      if (!full && why === 'stored' && this.inHand.length > 0) break;
      this.inHand.push(this.storeBatch(this.pending.splice(0, this.options.batchSize)));
    }
    if (this.pending.length === 0 || this.stopped) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
    } else {
      this.batchTimer ??= setTimeout(() => {
        this.batchTimer = undefined;
        this.handOver('waited');
      }, this.options.batchWaitMs);
    }
  }

  private storeBatch(messages: Received[]): Batch {
    const batch: Batch = { messages, stored: false, failed: false, settled: Promise.resolve() };
    batch.settled = this.store(messages).then(
      (result) => {
        if (result.deadLettered > 0)
          this.logger.warn({ deadLettered: result.deadLettered }, 'events dead-lettered');
        batch.stored = true;
        this.acknowledgeStored();
        this.handOver('stored');
      },
      (err: unknown) => {
        this.logger.error({ err }, 'storing events failed; the broker will resend them');
        batch.failed = true;
        // Message ids belong to their connection: dropping it unacknowledged makes the broker
        // resend, and those of the batches still in hand too.
        const held = [...this.inHand.flatMap((b) => b.messages), ...this.pending];
        for (const connection of new Set(held.map((m) => m.connection))) connection.destroy();
        this.connection?.destroy();
        this.pending = [];
        this.acknowledgeStored();
      },
    );
    return batch;
  }

  /** Acknowledges the stored batches at the front, in the order their messages came. */
  private acknowledgeStored(): void {
    while (this.inHand[0]?.stored || this.inHand[0]?.failed) {
      const { messages, stored } = this.inHand.shift()!;
      if (!stored) continue;
      // An id is only meaningful on the connection that delivered it; after a reconnection
      // the broker resends the message, and the duplicate is dropped.
      const ids: number[] = [];
      for (const m of messages)
        if (m.messageId !== undefined && m.connection === this.connection && !m.connection.destroyed)
          ids.push(m.messageId);
      // One write for the batch: over WebSockets each write is a frame (and a TLS record) the
      // broker must read on its own, and a PUBACK is four bytes.
      if (ids.length > 0) this.connection?.write(pubacks(ids));
    }
  }
}

/**
 * PUBACKs for these message ids, back to back. A PUBACK is fixed: type 4 with no flags, remaining
 * length 2, the id big-endian (MQTT 3.1.1 §3.4). Written here rather than by mqtt-packet's
 * generate, which allocates a packet object and buffers for each one of a batch's hundreds.
 */
export function pubacks(messageIds: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(messageIds.length * 4);
  messageIds.forEach((id, i) => {
    out[i * 4] = 0x40;
    out[i * 4 + 1] = 0x02;
    out.writeUInt16BE(id, i * 4 + 2);
  });
  return out;
}
