import { closeSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { SHA1_BYTES } from '../filter/sha1.js';

/**
 * The exact index behind `GET /range/{prefix}`: every digest with its occurrence count, sorted, with
 * a table of where each 5-hex-digit prefix starts. Only the table lives in memory (8 MiB); a range
 * request reads its few hundred records from disk, so a full-corpus index (about 48 GB) serves from a
 * small process.
 *
 *   header (64 bytes): magic "SCHIBPX\0", version u16, 6 reserved bytes, record count u64,
 *                      CRC-32 of the table u32, reserved, CRC-32 of bytes 0-59 at offset 60
 *   table:  2^20 + 1 record indexes (u64), entry p = first record whose digest starts with prefix p
 *   records: 20-byte digest + u32 count, sorted by digest, duplicates merged (counts summed)
 */
const INDEX_MAGIC = Buffer.from('SCHIBPX\0', 'latin1');
const INDEX_VERSION = 1;
const INDEX_HEADER_BYTES = 64;
const PREFIXES = 1 << 20;
const TABLE_BYTES = (PREFIXES + 1) * 8;
const RECORD_BYTES = SHA1_BYTES + 4;
const RECORDS_OFFSET = INDEX_HEADER_BYTES + TABLE_BYTES;
/** First-byte buckets for the external sort: each holds 1/256 of the corpus while it is sorted. */
const BUCKETS = 256;
const BUCKET_BUFFER_RECORDS = 2048;

export class ExactIndexError extends Error {
  constructor(path: string, reason: string) {
    super(`exact index ${path} refused: ${reason}`);
    this.name = 'ExactIndexError';
  }
}

/**
 * Builds the index in two passes without holding the corpus: digests are appended to one temporary
 * file per first byte, then each bucket is sorted in memory and appended to the index.
 */
export class ExactIndexWriter {
  private readonly scratch: string;
  private readonly fds: number[] = [];
  private readonly buffers: Buffer[] = [];
  private readonly fill: number[] = [];

  constructor(private readonly path: string) {
    this.scratch = mkdtempSync(join(dirname(path), '.exact-index-'));
    for (let b = 0; b < BUCKETS; b++) {
      this.fds.push(openSync(join(this.scratch, `${b}`), 'w'));
      this.buffers.push(Buffer.alloc(BUCKET_BUFFER_RECORDS * RECORD_BYTES));
      this.fill.push(0);
    }
  }

  add(digest: Uint8Array, count: number): void {
    const bucket = digest[0]!;
    const buffer = this.buffers[bucket]!;
    let at = this.fill[bucket]!;
    buffer.set(digest, at);
    buffer.writeUInt32BE(Math.min(count, 0xffffffff), at + SHA1_BYTES);
    at += RECORD_BYTES;
    if (at === buffer.length) {
      writeSync(this.fds[bucket]!, buffer, 0, at);
      at = 0;
    }
    this.fill[bucket] = at;
  }

  /** Gives up: closes and removes the temporary buckets. */
  abort(): void {
    for (const fd of this.fds.splice(0)) closeSync(fd);
    rmSync(this.scratch, { recursive: true, force: true });
  }

  /** Sorts the buckets into the index file; returns the number of distinct digests. */
  finish(): number {
    const tablePosition = INDEX_HEADER_BYTES;
    const table = Buffer.alloc(TABLE_BYTES);
    const temporary = `${this.path}.${process.pid}.tmp`;
    const out = openSync(temporary, 'w');
    let records = 0;
    let prefix = 0;
    try {
      for (let b = 0; b < BUCKETS; b++) {
        writeSync(this.fds[b]!, this.buffers[b]!, 0, this.fill[b]!);
        closeSync(this.fds[b]!);
        const sorted = sortBucket(readFileSync(join(this.scratch, `${b}`)));
        for (let at = 0; at < sorted.length; at += RECORD_BYTES) {
          const recordPrefix = (sorted[at]! << 12) | (sorted[at + 1]! << 4) | (sorted[at + 2]! >> 4);
          while (prefix <= recordPrefix) writeUInt64(table, records, 8 * prefix++);
          records++;
        }
        writeSync(out, sorted, 0, sorted.length, RECORDS_OFFSET + (records * RECORD_BYTES - sorted.length));
      }
      while (prefix <= PREFIXES) writeUInt64(table, records, 8 * prefix++);
      const header = Buffer.alloc(INDEX_HEADER_BYTES);
      INDEX_MAGIC.copy(header, 0);
      header.writeUInt16BE(INDEX_VERSION, 8);
      header.writeBigUInt64BE(BigInt(records), 16);
      header.writeUInt32BE(crc32(table), 24);
      header.writeUInt32BE(crc32(header.subarray(0, 60)), 60);
      writeSync(out, header, 0, header.length, 0);
      writeSync(out, table, 0, table.length, tablePosition);
    } finally {
      closeSync(out);
      rmSync(this.scratch, { recursive: true, force: true });
    }
    renameSync(temporary, this.path);
    return records;
  }
}

/** Big-endian 64-bit unsigned integer from a safe integer, without BigInt (a million of them per index). */
function writeUInt64(target: Buffer, value: number, offset: number): void {
  target.writeUInt32BE(Math.floor(value / 2 ** 32), offset);
  target.writeUInt32BE(value >>> 0, offset + 4);
}

/** Sorts one bucket's records by digest and merges repeated digests (their counts add up). */
function sortBucket(raw: Buffer): Buffer {
  const n = raw.length / RECORD_BYTES;
  // Bytes 1-6 decide almost every comparison (byte 0 is the bucket); the full compare breaks ties.
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = raw.readUIntBE(i * RECORD_BYTES + 1, 6);
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort(
    (a, b) =>
      keys[a]! - keys[b]! ||
      raw.compare(
        raw,
        b * RECORD_BYTES,
        b * RECORD_BYTES + SHA1_BYTES,
        a * RECORD_BYTES,
        a * RECORD_BYTES + SHA1_BYTES,
      ),
  );
  const out = Buffer.alloc(raw.length);
  let length = 0;
  for (const i of order) {
    const at = i * RECORD_BYTES;
    const previous = length - RECORD_BYTES;
    if (previous >= 0 && out.compare(raw, at, at + SHA1_BYTES, previous, previous + SHA1_BYTES) === 0) {
      const sum = out.readUInt32BE(previous + SHA1_BYTES) + raw.readUInt32BE(at + SHA1_BYTES);
      out.writeUInt32BE(Math.min(sum, 0xffffffff), previous + SHA1_BYTES);
      continue;
    }
    raw.copy(out, length, at, at + RECORD_BYTES);
    length += RECORD_BYTES;
  }
  return out.subarray(0, length);
}

/** An open exact index: the prefix table in memory, records read on demand. */
export class ExactIndex {
  private constructor(
    private readonly file: FileHandle,
    private readonly starts: Float64Array,
    readonly records: number,
  ) {}

  static async open(path: string): Promise<ExactIndex> {
    let file: FileHandle;
    try {
      file = await open(path, 'r');
    } catch (err) {
      throw new ExactIndexError(
        path,
        `cannot open (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`,
      );
    }
    try {
      const head = Buffer.alloc(RECORDS_OFFSET);
      const { bytesRead } = await file.read(head, 0, RECORDS_OFFSET, 0);
      if (bytesRead < RECORDS_OFFSET) throw new ExactIndexError(path, 'truncated header');
      if (!head.subarray(0, 8).equals(INDEX_MAGIC))
        throw new ExactIndexError(path, 'not an exact index (bad magic)');
      if (head.readUInt16BE(8) !== INDEX_VERSION)
        throw new ExactIndexError(path, 'unsupported format version');
      if (head.readUInt32BE(60) !== crc32(head.subarray(0, 60)))
        throw new ExactIndexError(path, 'header checksum mismatch');
      const table = head.subarray(INDEX_HEADER_BYTES);
      if (head.readUInt32BE(24) !== crc32(table)) throw new ExactIndexError(path, 'table checksum mismatch');
      const records = Number(head.readBigUInt64BE(16));
      const { size } = await file.stat();
      if (size !== RECORDS_OFFSET + records * RECORD_BYTES) {
        throw new ExactIndexError(path, `size ${size} does not match ${records} records`);
      }
      const starts = new Float64Array(PREFIXES + 1);
      for (let p = 0; p <= PREFIXES; p++)
        starts[p] = table.readUInt32BE(8 * p) * 2 ** 32 + table.readUInt32BE(8 * p + 4);
      return new ExactIndex(file, starts, records);
    } catch (err) {
      await file.close();
      throw err;
    }
  }

  /**
   * The records under a 5-hex-digit prefix in the format of api.pwnedpasswords.com/range:
   * `SUFFIX:COUNT` lines (35 uppercase hex digits), CRLF-separated.
   */
  async range(prefix: number): Promise<string> {
    const first = this.starts[prefix]!;
    const count = this.starts[prefix + 1]! - first;
    if (count <= 0) return '';
    const raw = Buffer.alloc(count * RECORD_BYTES);
    await this.file.read(raw, 0, raw.length, RECORDS_OFFSET + first * RECORD_BYTES);
    const lines: string[] = [];
    for (let at = 0; at < raw.length; at += RECORD_BYTES) {
      const hex = raw.toString('hex', at, at + SHA1_BYTES).toUpperCase();
      lines.push(`${hex.slice(5)}:${raw.readUInt32BE(at + SHA1_BYTES)}`);
    }
    return lines.join('\r\n');
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
