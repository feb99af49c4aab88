import { Duplex } from 'node:stream';

/**
 * Refuses MQTT packets larger than a limit as soon as their fixed header announces it, before any
 * of the body is buffered. aedes has no packet size limit of its own, and without one a client can
 * announce a 256 MB packet and make the broker hold whatever it sends towards it. It wraps a TLS
 * socket or a WebSocket stream alike: a WebSocket message is bounded on its own, but an MQTT packet
 * may span any number of them.
 *
 * It follows the framing only: a fixed header byte, then the remaining length as a variable-length
 * integer of at most four bytes (MQTT 3.1.1 §2.2.3), then that many bytes of body.
 */
export class PacketSizeGuard extends Duplex {
  private headerByteSeen = false;
  private lengthBytes = 0;
  private length = 0;
  private multiplier = 1;
  /** Body bytes of the current packet still to come; 0 while a fixed header is expected. */
  private bodyLeft = 0;

  constructor(
    readonly socket: Duplex,
    private readonly maxBytes: number,
    private readonly onOversize: (announced: number | 'malformed') => void,
  ) {
    super({ allowHalfOpen: false });
    socket.on('data', (chunk: Buffer) => {
      const verdict = this.inspect(chunk);
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

  /** Walks the framing of a chunk; 'ok', or why the connection must end. */
  private inspect(chunk: Buffer): 'ok' | number | 'malformed' {
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

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.socket.write(chunk, encoding, done);
  }

  /**
   * aedes (through mqtt-packet) writes one packet as several small chunks, corked, and everything
   * queued while the socket is busy arrives here at once. Handing them on one by one would make
   * each its own TLS record or WebSocket frame, each written only after the one before it: a
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
