import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { decodeSha1Hex, SHA1_BYTES, SHA1_HEX_LENGTH } from '../filter/sha1.js';

/**
 * Streams a Pwned Passwords corpus: one `SHA1HEX:COUNT` or bare `SHA1HEX` per line, either case,
 * LF or CRLF, plain or gzip (recognised by its magic bytes, whatever the file name). Lines are parsed
 * straight from the read buffers into one reused 20-byte digest, so memory stays flat whatever the
 * corpus size and no line ever becomes a string.
 */
export interface CorpusStats {
  /** Well-formed lines. */
  lines: number;
  /** Lines that are neither a 40-hex digest nor one followed by `:COUNT`; blank lines are ignored. */
  malformed: number;
  /** Bytes read from the file (compressed bytes for gzip), for progress. */
  bytesRead: number;
}

/** Called for each well-formed line; `digest` is reused, copy it to keep it. */
export type DigestSink = (digest: Uint8Array, count: number) => void;

export interface ReadCorpusOptions {
  onDigest: DigestSink;
  /** Called after each chunk with the running statistics. */
  onProgress?: (stats: CorpusStats) => void;
  /** First malformed lines (number and a short excerpt) are reported here, at most `malformedSamples`. */
  onMalformed?: (lineNumber: number, excerpt: string) => void;
  malformedSamples?: number;
}

const NEWLINE = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
/** Longest line we look at: a digest, a colon and a count far beyond any real one. */
const MAX_LINE = 128;
/**
 * A quarter of a megabyte parses as fast as a megabyte did (11 to 16 million lines/s either way, on
 * the benchmark's 100-million-line corpus) and leaves more of the builder's memory to the filter.
 */
const READ_BYTES = 1 << 18;

export async function isGzip(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const magic = Buffer.alloc(2);
    const { bytesRead } = await file.read(magic, 0, 2, 0);
    return bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    await file.close();
  }
}

export async function readCorpus(path: string, options: ReadCorpusOptions): Promise<CorpusStats> {
  const stats: CorpusStats = { lines: 0, malformed: 0, bytesRead: 0 };
  const parser = new LineParser(stats, options);
  if (await isGzip(path)) {
    const file = createReadStream(path, { highWaterMark: READ_BYTES });
    file.on('data', (chunk) => (stats.bytesRead += chunk.length));
    const source = file.pipe(createGunzip({ chunkSize: READ_BYTES }));
    file.on('error', (err) => source.destroy(err));
    for await (const chunk of source as AsyncIterable<Buffer>) {
      parser.push(chunk);
      options.onProgress?.(stats);
    }
  } else {
    // One buffer, read into again and again: a stream would allocate a new chunk each time, and
    // the garbage would push the builder's peak memory well above the filter's size.
    const file = await open(path, 'r');
    try {
      const buffer = Buffer.allocUnsafe(READ_BYTES);
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, READ_BYTES, null);
        if (bytesRead === 0) break;
        stats.bytesRead += bytesRead;
        parser.push(buffer.subarray(0, bytesRead));
        options.onProgress?.(stats);
      }
    } finally {
      await file.close();
    }
  }
  parser.end();
  return stats;
}

class LineParser {
  private readonly digest = new Uint8Array(SHA1_BYTES);
  /** The unfinished last line of the previous chunk. */
  private carry = Buffer.alloc(0);
  private lineNumber = 0;
  private samples = 0;

  constructor(
    private readonly stats: CorpusStats,
    private readonly options: ReadCorpusOptions,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    if (this.carry.length > 0) {
      const end = chunk.indexOf(NEWLINE);
      if (end < 0) {
        // A line longer than any valid one is malformed anyway: keep only its start, so that a file
        // without newlines cannot grow this buffer.
        this.carry = Buffer.concat([this.carry, chunk]).subarray(0, MAX_LINE + 1);
        return;
      }
      this.line(Buffer.concat([this.carry, chunk.subarray(0, end)]), 0, this.carry.length + end);
      this.carry = Buffer.alloc(0);
      start = end + 1;
    }
    start = this.scan(chunk, start);
    if (start < chunk.length) this.carry = Buffer.from(chunk.subarray(start, start + MAX_LINE + 1));
  }

  /**
   * Parses every complete line from `start` and returns where the unfinished last line begins. The
   * common line (`HEX:COUNT` or `HEX`, LF or CRLF) is parsed in one pass over its bytes; anything
   * else goes through line(), which finds the line end first and tells malformed from blank.
   */
  private scan(data: Buffer, start: number): number {
    const length = data.length;
    const digest = this.digest;
    let at = start;
    for (;;) {
      if (at + SHA1_HEX_LENGTH < length && decodeSha1Hex(data, at, digest)) {
        let i = at + SHA1_HEX_LENGTH;
        let count = 1;
        let c = data[i]!;
        let wellFormed = true;
        if (c === COLON) {
          count = 0;
          const digits = ++i;
          for (; i < length; i++) {
            const digit = data[i]! - 0x30;
            if (digit < 0 || digit > 9) break;
            count = count * 10 + digit;
          }
          wellFormed = i > digits && i - at <= MAX_LINE;
          c = data[i]!;
        }
        if (c === CR) c = data[++i]!;
        if (wellFormed && c === NEWLINE && i < length) {
          this.lineNumber++;
          this.stats.lines++;
          this.options.onDigest(digest, count);
          at = i + 1;
          continue;
        }
      }
      const end = data.indexOf(NEWLINE, at);
      if (end < 0) return at;
      this.line(data, at, end);
      at = end + 1;
    }
  }

  end(): void {
    if (this.carry.length > 0) this.line(this.carry, 0, this.carry.length);
    this.carry = Buffer.alloc(0);
  }

  private line(data: Buffer, start: number, end: number): void {
    this.lineNumber++;
    if (end > start && data[end - 1] === CR) end--;
    if (end === start) return;
    const count = this.parse(data, start, end);
    if (count < 0) {
      this.stats.malformed++;
      const max = this.options.malformedSamples ?? 5;
      if (this.options.onMalformed && this.samples < max) {
        this.samples++;
        const excerpt = data
          .toString('latin1', start, Math.min(end, start + 60))
          .replace(/[^\x20-\x7e]/g, '?');
        this.options.onMalformed(this.lineNumber, excerpt);
      }
      return;
    }
    this.stats.lines++;
    this.options.onDigest(this.digest, count);
  }

  /** The line's count (1 for a bare digest), or -1 when the line is malformed. */
  private parse(data: Buffer, start: number, end: number): number {
    const length = end - start;
    if (length < SHA1_HEX_LENGTH || length > MAX_LINE) return -1;
    if (!decodeSha1Hex(data, start, this.digest)) return -1;
    if (length === SHA1_HEX_LENGTH) return 1;
    if (data[start + SHA1_HEX_LENGTH] !== COLON || length === SHA1_HEX_LENGTH + 1) return -1;
    let count = 0;
    for (let i = start + SHA1_HEX_LENGTH + 1; i < end; i++) {
      const digit = data[i]! - 0x30;
      if (digit < 0 || digit > 9) return -1;
      count = count * 10 + digit;
    }
    return count;
  }
}
