import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { AedesOptions } from 'aedes';

type Persistence = NonNullable<AedesOptions['persistence']>;

/** The fields of a queued packet that find it again; aedes hands the whole packet. */
export interface QueuedPacket {
  brokerId?: string;
  brokerCounter?: number;
  messageId?: number;
}

/**
 * One client's QoS 1 and 2 messages sent or to be sent and not yet acknowledged, in delivery
 * order, found by origin (broker id and counter) and by packet identifier in constant time.
 *
 * aedes-persistence keeps this queue as an array it scans from the start on every delivery and
 * every PUBACK. A subscriber that acknowledges after committing, like device-service's ingester,
 * holds thousands of messages unacknowledged, and the broker then spends its time in those scans
 * (quadratic in the backlog): the ingester waits for messages the broker is too busy to send.
 * The answers are those of the array's first match, which this reproduces (aedes-persistence's
 * own contract tests run against it in memory-persistence.spec.ts). One entry per message is
 * allocated in the usual case, since the broker does this for every message it delivers.
 */
export class OutgoingQueue<P extends QueuedPacket> {
  /** Insertion order is delivery order (a Map iterates in insertion order). */
  private readonly packets = new Map<number, P>();
  /**
   * By broker id, then counter. A PUBREL has neither, and the array's scan counts two of them as
   * the same origin; a packet enqueued twice for one client (overlapping subscriptions) has one
   * origin twice.
   */
  private readonly byOrigin = new Map<string | undefined, PositionIndex<number | undefined>>();
  /** Normally one position per identifier; more only if aedes reused one still queued. */
  private readonly byMessageId = new PositionIndex<number>();
  /**
   * Positions of packets placed without an identifier (not sent yet), ascending, some of them
   * stale: aedes may clear "the first without one" too, when it drops a duplicate delivery.
   */
  private unsent: number[] = [];
  private unsentHead = 0;
  private nextPosition = 0;

  get size(): number {
    return this.packets.size;
  }

  enqueue(packet: P): void {
    this.place(this.nextPosition++, packet);
  }

  /**
   * The same as the array's scan: the first packet from the same broker with the same counter
   * takes the new identifier; failing that, the first from another origin with the same identifier
   * (a PUBREL) is replaced. Answers false when neither is queued.
   */
  update(packet: P): boolean {
    const sameOrigin = this.byOrigin.get(packet.brokerId)?.first(packet.brokerCounter, () => true);
    const sameId = this.firstWithId(packet.messageId, (p) => p.brokerId !== packet.brokerId);
    if (sameOrigin !== undefined && (sameId === undefined || sameOrigin < sameId)) {
      const queued = this.packets.get(sameOrigin)!;
      this.unindexId(sameOrigin, queued.messageId);
      queued.messageId = packet.messageId;
      this.indexId(sameOrigin, queued.messageId);
      return true;
    }
    if (sameId === undefined) return false;
    this.unindex(sameId, this.packets.get(sameId)!);
    this.place(sameId, packet);
    return true;
  }

  /** Removes and answers the first packet with this identifier. */
  clear(messageId: number | undefined): P | undefined {
    const position = this.firstWithId(messageId, () => true);
    if (position === undefined) return undefined;
    const packet = this.packets.get(position)!;
    this.packets.delete(position);
    this.unindex(position, packet);
    return packet;
  }

  /** A copy, so that deliveries and acknowledgements during a resend do not disturb it. */
  snapshot(): P[] {
    return [...this.packets.values()];
  }

  /** Setting a key already present keeps its place in a Map's order, as a replaced array slot does. */
  private place(position: number, packet: P): void {
    this.packets.set(position, packet);
    let origins = this.byOrigin.get(packet.brokerId);
    if (!origins) {
      origins = new PositionIndex();
      this.byOrigin.set(packet.brokerId, origins);
    }
    origins.add(packet.brokerCounter, position);
    this.indexId(position, packet.messageId);
  }

  private unindex(position: number, packet: P): void {
    const origins = this.byOrigin.get(packet.brokerId);
    origins?.delete(packet.brokerCounter, position);
    if (origins?.empty) this.byOrigin.delete(packet.brokerId);
    this.unindexId(position, packet.messageId);
  }

  private indexId(position: number, messageId: number | undefined): void {
    if (messageId !== undefined) {
      this.byMessageId.add(messageId, position);
      return;
    }
    // Entries stale at the front go as new ones arrive, so the list holds about what is unsent.
    this.dropStaleUnsent();
    if (position > (this.unsent.at(-1) ?? -1)) {
      this.unsent.push(position);
    } else {
      // Only a packet that loses its identifier again lands out of order; never in aedes' use.
      this.unsent = [...this.unsent.slice(this.unsentHead), position].sort((a, b) => a - b);
      this.unsentHead = 0;
    }
  }

  private unindexId(position: number, messageId: number | undefined): void {
    // The unsent list is cleaned as it is read.
    if (messageId !== undefined) this.byMessageId.delete(messageId, position);
  }

  private firstWithId(messageId: number | undefined, accept: (packet: P) => boolean): number | undefined {
    if (messageId !== undefined) {
      return this.byMessageId.first(messageId, (position) => accept(this.packets.get(position)!));
    }
    this.dropStaleUnsent();
    for (let i = this.unsentHead; i < this.unsent.length; i++) {
      const packet = this.packets.get(this.unsent[i]!);
      if (packet?.messageId === undefined && packet && accept(packet)) return this.unsent[i];
    }
    return undefined;
  }

  private dropStaleUnsent(): void {
    while (this.unsentHead < this.unsent.length) {
      const packet = this.packets.get(this.unsent[this.unsentHead]!);
      if (packet !== undefined && packet.messageId === undefined) break;
      this.unsentHead++;
    }
    if (this.unsentHead > 1024 && this.unsentHead * 2 > this.unsent.length) {
      this.unsent = this.unsent.slice(this.unsentHead);
      this.unsentHead = 0;
    }
  }
}

/**
 * Positions under each key, ascending, so that the first accepted is the first queued. A key
 * nearly always has one, kept as a bare number; a list only for the rare second.
 */
class PositionIndex<K> {
  private readonly positions = new Map<K, number | number[]>();

  get empty(): boolean {
    return this.positions.size === 0;
  }

  first(key: K, accept: (position: number) => boolean): number | undefined {
    const found = this.positions.get(key);
    if (found === undefined) return undefined;
    if (typeof found === 'number') return accept(found) ? found : undefined;
    return found.find(accept);
  }

  add(key: K, position: number): void {
    const found = this.positions.get(key);
    if (found === undefined) this.positions.set(key, position);
    else if (typeof found === 'number')
      this.positions.set(key, found < position ? [found, position] : [position, found]);
    else {
      found.push(position);
      found.sort((a, b) => a - b);
    }
  }

  delete(key: K, position: number): void {
    const found = this.positions.get(key);
    if (found === position) {
      this.positions.delete(key);
    } else if (Array.isArray(found)) {
      const rest = found.filter((p) => p !== position);
      this.positions.set(key, rest.length === 1 ? rest[0]! : rest);
    }
  }
}

interface AedesMemoryPersistence {
  outgoingEnqueue(sub: { clientId: string }, packet: QueuedPacket): Promise<void>;
  outgoingEnqueueCombi(subs: { clientId: string }[], packet: QueuedPacket): Promise<void>;
  outgoingUpdate(client: { id: string }, packet: QueuedPacket): Promise<void>;
  outgoingClearMessageId(client: { id: string }, packet: QueuedPacket): Promise<QueuedPacket | undefined>;
  outgoingStream(client: { id: string }): Readable;
  destroy(): Promise<void>;
}

const require = createRequire(import.meta.url);
// aedes' own default, whose other parts (subscriptions, retained messages, wills) are kept.
const AedesMemory = require('aedes-persistence/asyncPersistence.js') as (new () => AedesMemoryPersistence) & {
  Packet: new (original: QueuedPacket) => QueuedPacket;
};

/** aedes' in-memory persistence with the outgoing queues replaced by indexed ones. */
export class MemoryPersistence extends AedesMemory {
  private readonly outgoing = new Map<string, OutgoingQueue<QueuedPacket>>();

  private queueOf(clientId: string): OutgoingQueue<QueuedPacket> {
    let queue = this.outgoing.get(clientId);
    if (!queue) {
      queue = new OutgoingQueue();
      this.outgoing.set(clientId, queue);
    }
    return queue;
  }

  override async outgoingEnqueue(sub: { clientId: string }, packet: QueuedPacket): Promise<void> {
    this.queueOf(sub.clientId).enqueue(new AedesMemory.Packet(packet));
  }

  override async outgoingEnqueueCombi(subs: { clientId: string }[], packet: QueuedPacket): Promise<void> {
    for (const sub of subs) this.queueOf(sub.clientId).enqueue(new AedesMemory.Packet(packet));
  }

  override async outgoingUpdate(client: { id: string }, packet: QueuedPacket): Promise<void> {
    if (!this.queueOf(client.id).update(packet)) throw new Error('no such packet');
  }

  override async outgoingClearMessageId(
    client: { id: string },
    packet: QueuedPacket,
  ): Promise<QueuedPacket | undefined> {
    const queue = this.outgoing.get(client.id);
    const cleared = queue?.clear(packet.messageId);
    // A client that has everything acknowledged holds no queue, however many clients come and go.
    if (queue?.size === 0) this.outgoing.delete(client.id);
    return cleared;
  }

  override outgoingStream(client: { id: string }): Readable {
    return Readable.from(this.outgoing.get(client.id)?.snapshot() ?? []);
  }

  override async destroy(): Promise<void> {
    await super.destroy();
    this.outgoing.clear();
  }
}

export function memoryPersistence(): Persistence {
  return new MemoryPersistence();
}
