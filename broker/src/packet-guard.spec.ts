import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PacketSizeGuard } from './packet-guard.js';

/** The socket under the guard, keeping each write it is handed, and finishing each when told. */
class RecordingSocket extends Duplex {
  readonly writes: Buffer[] = [];
  private readonly finishing: (() => void)[] = [];

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.writes.push(chunk);
    this.finishing.push(done);
  }

  finishWrites(): void {
    for (const done of this.finishing.splice(0)) done();
  }
}

describe('PacketSizeGuard writes', () => {
  const guarded = () => {
    const socket = new RecordingSocket();
    return { socket, guard: new PacketSizeGuard(socket, 1024, () => undefined) };
  };

  it('hands the socket a packet written in pieces as one write', () => {
    const { socket, guard } = guarded();
    guard.cork();
    for (const piece of [[0x40], [0x02], [0x00, 0x07]]) guard.write(Buffer.from(piece));
    guard.uncork();
    expect(socket.writes).toEqual([Buffer.from([0x40, 0x02, 0x00, 0x07])]);
  });

  it('joins what was written while the socket was busy into the next write', () => {
    const { socket, guard } = guarded();
    guard.write(Buffer.from([0x40, 0x02, 0x00, 0x01]));
    guard.write(Buffer.from([0x40, 0x02, 0x00, 0x02]));
    guard.write(Buffer.from([0x40, 0x02, 0x00, 0x03]));
    expect(socket.writes).toHaveLength(1);
    socket.finishWrites();
    expect(socket.writes).toEqual([
      Buffer.from([0x40, 0x02, 0x00, 0x01]),
      Buffer.from([0x40, 0x02, 0x00, 0x02, 0x40, 0x02, 0x00, 0x03]),
    ]);
  });
});
