import { Duplex, type Readable } from 'node:stream';

/** Why a connection must end: the size a packet announced, or a length that is not one. */
export type OversizeVerdict = number | 'malformed';

/**
 * Follows the MQTT framing of what a client sends, to refuse a packet larger than a limit as soon
 * as its fixed header announces it, before any of the body is buffered. aedes has no packet size
 * limit of its own, and without one a client can announce a 256 MB packet and make the broker hold
 * whatever it sends towards it.
 *
 * It reads the framing only: a fixed header byte, then the remaining length as a variable-length
 * integer of at most four bytes (MQTT 3.1.1 §2.2.3), then that many bytes of body.
 */
export class PacketFraming {
  private headerByteSeen = false;
  private lengthBytes = 0;
  private length = 0;
  private multiplier = 1;
  /** Body bytes of the current packet still to come; 0 while a fixed header is expected. */
  private bodyLeft = 0;

  constructor(private readonly maxBytes: number) {}

  /** Walks the framing of the next chunk; 'ok', or why the connection must end. */
  inspect(chunk: Buffer): 'ok' | OversizeVerdict {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= take;
        i += take;
        continue;
      }
      if (!this.headerByteSeen) {
        this.headerByteSeen = true;
        i++;
        continue;
      }
      const byte = chunk[i++]!;
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (byte & 0x80) {
        if (this.lengthBytes === 4) return 'malformed';
        continue;
      }
      // Fixed header byte + length bytes + body.
      if (1 + this.lengthBytes + this.length > this.maxBytes) return this.length;
      this.bodyLeft = this.length;
      this.headerByteSeen = false;
      this.lengthBytes = 0;
      this.length = 0;
      this.multiplier = 1;
    }
    return 'ok';
  }
}

/**
 * Bounds the packets on a socket aedes reads itself, without a stream between them. aedes takes
 * what the socket holds with read() on each 'readable', so read() is where every chunk passes
 * before aedes parses it: this socket's read() inspects the chunk, and at the one whose header
 * announces too much it ends the socket and answers null, so aedes parses none of that chunk,
 * as with a stream in between.
 *
 * A wrapping Duplex cost a second stream for every read and write, which the broker paid per
 * message on the device listener (bench/device-service). Observing with a 'data' listener would
 * let aedes parse the offending chunk, a whole packet over the limit when the limit is below what
 * one read holds. broker/test/fuzz.test.ts checks that aedes still reads this way.
 */
export function guardReadPackets(
  socket: Readable,
  maxBytes: number,
  onOversize: (announced: OversizeVerdict) => void,
): void {
  const framing = new PacketFraming(maxBytes);
  const read = socket.read.bind(socket);
  socket.read = (size?: number): unknown => {
    const chunk = read(size) as Buffer | null;
    if (chunk === null || socket.destroyed) return null;
    const verdict = framing.inspect(chunk);
    if (verdict === 'ok') return chunk;
    onOversize(verdict);
    socket.destroy();
    return null;
  };
}

/**
 * The size limit for a WebSocket stream, as a Duplex between it and aedes: a WebSocket message is
 * bounded on its own, but an MQTT packet may span any number of them. It also joins the pieces
 * aedes writes into one frame (see _writev).
 */
export class PacketSizeGuard extends Duplex {
  private readonly framing: PacketFraming;

  constructor(
    readonly socket: Duplex,
    maxBytes: number,
    private readonly onOversize: (announced: OversizeVerdict) => void,
  ) {
    super({ allowHalfOpen: false });
    this.framing = new PacketFraming(maxBytes);
    socket.on('data', (chunk: Buffer) => {
      const verdict = this.framing.inspect(chunk);
      if (verdict !== 'ok') {
        this.onOversize(verdict);
        this.destroy();
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    socket.on('error', (err) => this.destroy(err));
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.socket.write(chunk, encoding, done);
  }

  /**
   * aedes (through mqtt-packet) writes one packet as several small chunks, corked, and everything
   * queued while the socket is busy arrives here at once. Handing them on one by one would make
   * each its own WebSocket frame, each written only after the one before it: a
   * PUBACK in three pieces then waits on the peer's delayed TCP acknowledgement (Nagle), and a
   * subscriber receiving thousands of messages gets five frames for each. Joined, they leave as
   * one write; a WebSocket frame may carry several MQTT packets (MQTT 3.1.1 §6).
   */
  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    done: (error?: Error | null) => void,
  ): void {
    this.socket.write(
      chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map(({ chunk }) => chunk)),
      done,
    );
  }

  override _final(done: (error?: Error | null) => void): void {
    this.socket.end(done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.socket.destroy();
    done(error);
  }
}
