import { Duplex, PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { guardReadPackets, PacketFraming, PacketSizeGuard, type OversizeVerdict } from './packet-guard.js';

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

describe('PacketFraming', () => {
  it.each([
    {
      name: 'packets within the limit, in one chunk',
      chunks: [[0x30, 0x02, 0x61, 0x62, 0xc0, 0x00]],
      verdict: 'ok',
    },
    {
      name: 'a header split across chunks',
      chunks: [[0x30], [0x82], [0x01], Array(130).fill(0x61)],
      verdict: 'ok',
    },
    {
      name: 'a body spread over chunks',
      chunks: [[0x30, 0x7f], Array(100).fill(0), Array(27).fill(0), [0xc0, 0x00]],
      verdict: 'ok',
    },
    {
      name: 'exactly the limit (header and body)',
      chunks: [[0x30, 0xfd, 0x01], Array(253).fill(0)],
      verdict: 'ok',
    },
    { name: 'one byte over the limit', chunks: [[0x30, 0xfe, 0x01]], verdict: 254 },
    { name: 'an oversized second packet', chunks: [[0xc0, 0x00, 0x30, 0x80, 0x80, 0x10]], verdict: 262144 },
    { name: 'a length of five bytes', chunks: [[0x30, 0x80, 0x80, 0x80, 0x80]], verdict: 'malformed' },
  ])('$name: $verdict', ({ chunks, verdict }) => {
    const framing = new PacketFraming(256);
    const verdicts = chunks.map((chunk) => framing.inspect(Buffer.from(chunk)));
    expect(verdicts.find((v) => v !== 'ok') ?? 'ok').toBe(verdict);
  });
});

describe('guardReadPackets', () => {
  /** A socket read as aedes reads it: read() on each 'readable'. */
  const readLikeAedes = () => {
    const socket = new PassThrough();
    const read: Buffer[] = [];
    const verdicts: OversizeVerdict[] = [];
    guardReadPackets(socket, 256, (v) => verdicts.push(v));
    socket.on('readable', () => {
      for (let chunk = socket.read() as Buffer | null; chunk; chunk = socket.read() as Buffer | null)
        read.push(chunk);
    });
    return { socket, read, verdicts };
  };
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('leaves every byte to the reader while packets are within the limit', async () => {
    const { socket, read, verdicts } = readLikeAedes();
    socket.write(Buffer.from([0x30, 0x02, 0x61]));
    await turn();
    socket.write(Buffer.from([0x62, 0xc0, 0x00]));
    await turn();
    expect(Buffer.concat(read)).toEqual(Buffer.from([0x30, 0x02, 0x61, 0x62, 0xc0, 0x00]));
    expect(verdicts).toEqual([]);
    expect(socket.destroyed).toBe(false);
  });

  it('ends the socket at the header announcing too much, before the body arrives', async () => {
    const { socket, read, verdicts } = readLikeAedes();
    socket.write(Buffer.from([0x30, 0x80, 0x80, 0x10]));
    await turn();
    expect(verdicts).toEqual([262144]);
    expect(socket.destroyed).toBe(true);
    expect(read).toEqual([]);
  });

  it('hands the reader none of a read holding a whole packet over the limit', async () => {
    const { socket, read, verdicts } = readLikeAedes();
    const oversized = Buffer.concat([Buffer.from([0x30, 0x80, 0x02]), Buffer.alloc(256, 0x61)]);
    socket.write(Buffer.concat([Buffer.from([0xc0, 0x00]), oversized]));
    await turn();
    expect(verdicts).toEqual([256]);
    expect(read).toEqual([]);
  });
});
