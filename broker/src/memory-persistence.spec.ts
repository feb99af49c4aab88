import assert from 'node:assert';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryPersistence, OutgoingQueue, type QueuedPacket } from './memory-persistence.js';

interface NodeTestContext {
  assert: typeof assert;
  plan(count: number): void;
  diagnostic(message: string): void;
}

/** aedes-persistence's contract suite is written for node:test; this runs it as vitest cases. */
function asVitest(name: string, run: (t: NodeTestContext) => Promise<void>): void {
  it(name, async () => {
    let planned: number | undefined;
    let asserted = 0;
    const counted = new Proxy(assert, {
      get(target, property: keyof typeof assert) {
        const method = target[property];
        if (typeof method !== 'function') return method;
        return (...args: unknown[]) => {
          asserted++;
          return (method as (...a: unknown[]) => unknown)(...args);
        };
      },
    });
    await run({ assert: counted, plan: (count) => (planned = count), diagnostic: () => undefined });
    if (planned !== undefined) expect(asserted).toBe(planned);
  });
}

describe("aedes-persistence's contract, with the indexed outgoing queues", () => {
  const require = createRequire(import.meta.url);
  const abstractPersistence = require('aedes-persistence/abstract.js') as (options: object) => void;
  abstractPersistence({ test: asVitest, persistence: () => new MemoryPersistence(), testAsync: true });
});

/** aedes-persistence's array and its scans from the start: what the queue must answer alike. */
class ScannedQueue {
  readonly packets: QueuedPacket[] = [];

  update(packet: QueuedPacket): boolean {
    for (let i = 0; i < this.packets.length; i++) {
      const queued = this.packets[i]!;
      if (queued.brokerId === packet.brokerId) {
        if (queued.brokerCounter !== packet.brokerCounter) continue;
        queued.messageId = packet.messageId;
        return true;
      }
      if (queued.messageId === packet.messageId) {
        this.packets[i] = packet;
        return true;
      }
    }
    return false;
  }

  clear(messageId: number | undefined): QueuedPacket | undefined {
    const index = this.packets.findIndex((p) => p.messageId === messageId);
    return index < 0 ? undefined : this.packets.splice(index, 1)[0];
  }
}

type Operation =
  | { op: 'enqueue'; brokerId: string; brokerCounter: number }
  | { op: 'update'; brokerId: string | undefined; brokerCounter: number; messageId: number | undefined }
  | { op: 'clear'; messageId: number | undefined };

// Few brokers, counters and identifiers, so that reuse, duplicates and misses all happen.
const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({
    op: fc.constant('enqueue' as const),
    brokerId: fc.constantFrom('a', 'b'),
    brokerCounter: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({
    op: fc.constant('update' as const),
    brokerId: fc.constantFrom('a', 'b', undefined),
    brokerCounter: fc.integer({ min: 1, max: 3 }),
    messageId: fc.constantFrom(1, 2, 3, undefined),
  }),
  fc.record({ op: fc.constant('clear' as const), messageId: fc.constantFrom(1, 2, 3, undefined) }),
);

describe('the outgoing queue', () => {
  it('answers every sequence of deliveries, acknowledgements and PUBRELs as the array scan does', () => {
    fc.assert(
      fc.property(fc.array(operation, { minLength: 5, maxLength: 60, size: 'max' }), (operations) => {
        const indexed = new OutgoingQueue<QueuedPacket>();
        const scanned = new ScannedQueue();
        for (const o of operations) {
          if (o.op === 'enqueue') {
            const packet = { brokerId: o.brokerId, brokerCounter: o.brokerCounter };
            indexed.enqueue({ ...packet });
            scanned.packets.push({ ...packet });
          } else if (o.op === 'update') {
            const packet = { brokerId: o.brokerId, brokerCounter: o.brokerCounter, messageId: o.messageId };
            expect(indexed.update({ ...packet })).toBe(scanned.update({ ...packet }));
          } else {
            expect(indexed.clear(o.messageId)).toEqual(scanned.clear(o.messageId));
          }
          expect(indexed.snapshot()).toEqual(scanned.packets);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps its order when a PUBREL replaces a publish in the middle', () => {
    const queue = new OutgoingQueue<QueuedPacket & { cmd?: string }>();
    for (const counter of [1, 2, 3]) queue.enqueue({ brokerId: 'a', brokerCounter: counter });
    for (const counter of [1, 2, 3])
      queue.update({ brokerId: 'a', brokerCounter: counter, messageId: counter });
    expect(queue.update({ cmd: 'pubrel', messageId: 2 })).toBe(true);
    expect(queue.snapshot().map((p) => p.cmd ?? p.messageId)).toEqual([1, 'pubrel', 3]);
  });
});
