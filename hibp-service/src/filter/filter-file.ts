import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { BloomFilter, MAX_REGION_BITS } from './bloom.js';

/**
 * The filter file: a fixed 128-byte header, then the filter body.
 *
 *   offset size  field
 *        0    8  magic "SCHIBPF\0"
 *        8    2  format version (big-endian, currently 1)
 *       10    1  layout (1 = Bloom in 4 KiB regions, probes taken from the SHA-1 bits, see bloom.ts)
 *       11    1  reserved, 0
 *       12    4  hash functions (probes per key)
 *       16    8  hash count (keys inserted)
 *       24    8  bit count
 *       32    8  body length in bytes
 *       40    8  target false-positive rate (IEEE 754 double)
 *       48    4  minimum occurrence count the builder kept (0 = every hash)
 *       52    4  CRC-32 of the body
 *       56   32  source tag: SHA-256 of what the filter was built from, or zeros (see default-filter.ts)
 *       88    4  bits per region
 *       92   32  reserved, zeros
 *      124    4  CRC-32 of bytes 0-123
 *
 * Everything a reader needs to size and check the body is in the header, so a truncated or corrupt
 * file is refused before its body is trusted, and a future layout (say, a binary fuse filter) can
 * share the file name and the loader.
 */
export const FILTER_MAGIC = Buffer.from('SCHIBPF\0', 'latin1');
export const FILTER_FORMAT_VERSION = 1;
export const LAYOUT_BLOOM = 1;
export const HEADER_BYTES = 128;
const HEADER_CRC_OFFSET = 124;
/** Reads and checksums in pieces: zlib.crc32 and fs reads both take at most 2 GiB at once. */
const CHUNK_BYTES = 64 * 1024 * 1024;

export interface FilterHeader {
  version: number;
  layout: number;
  hashes: number;
  keys: number;
  bits: number;
  bodyBytes: number;
  regionBits: number;
  fpRate: number;
  minCount: number;
  bodyCrc: number;
  sourceTag: Buffer;
}

export interface LoadedFilter {
  header: FilterHeader;
  filter: BloomFilter;
}

/** A filter file that cannot be used; the message says which check failed. */
export class FilterFileError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`filter file ${path} refused: ${reason}`);
    this.name = 'FilterFileError';
  }
}

export function encodeHeader(header: Omit<FilterHeader, 'version' | 'layout'>): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  FILTER_MAGIC.copy(out, 0);
  out.writeUInt16BE(FILTER_FORMAT_VERSION, 8);
  out.writeUInt8(LAYOUT_BLOOM, 10);
  out.writeUInt32BE(header.hashes, 12);
  out.writeBigUInt64BE(BigInt(header.keys), 16);
  out.writeBigUInt64BE(BigInt(header.bits), 24);
  out.writeBigUInt64BE(BigInt(header.bodyBytes), 32);
  out.writeDoubleBE(header.fpRate, 40);
  out.writeUInt32BE(header.minCount, 48);
  out.writeUInt32BE(header.bodyCrc, 52);
  if (header.sourceTag.length !== 32) throw new RangeError('source tag must be 32 bytes');
  header.sourceTag.copy(out, 56);
  out.writeUInt32BE(header.regionBits, 88);
  out.writeUInt32BE(crc32(out.subarray(0, HEADER_CRC_OFFSET)), HEADER_CRC_OFFSET);
  return out;
}

/** Parses and checks a header; throws FilterFileError naming the field that is wrong. */
export function decodeHeader(path: string, raw: Buffer): FilterHeader {
  const refuse = (reason: string) => new FilterFileError(path, reason);
  if (raw.length < HEADER_BYTES) throw refuse(`truncated header (${raw.length} of ${HEADER_BYTES} bytes)`);
  if (!raw.subarray(0, 8).equals(FILTER_MAGIC)) throw refuse('not a filter file (bad magic)');
  const version = raw.readUInt16BE(8);
  if (version !== FILTER_FORMAT_VERSION) {
    throw refuse(`format version ${version} is not supported (expected ${FILTER_FORMAT_VERSION})`);
  }
  if (raw.readUInt32BE(HEADER_CRC_OFFSET) !== crc32(raw.subarray(0, HEADER_CRC_OFFSET))) {
    throw refuse('header checksum mismatch');
  }
  const layout = raw.readUInt8(10);
  if (layout !== LAYOUT_BLOOM) throw refuse(`unknown layout ${layout}`);
  const header: FilterHeader = {
    version,
    layout,
    hashes: raw.readUInt32BE(12),
    keys: Number(raw.readBigUInt64BE(16)),
    bits: Number(raw.readBigUInt64BE(24)),
    bodyBytes: Number(raw.readBigUInt64BE(32)),
    fpRate: raw.readDoubleBE(40),
    minCount: raw.readUInt32BE(48),
    bodyCrc: raw.readUInt32BE(52),
    sourceTag: Buffer.from(raw.subarray(56, 88)),
    regionBits: raw.readUInt32BE(88),
  };
  if (header.bits <= 0 || header.bits % 64 !== 0 || header.bits / 8 !== header.bodyBytes) {
    throw refuse(`bit count ${header.bits} does not match body length ${header.bodyBytes}`);
  }
  if (
    header.regionBits < 64 ||
    header.regionBits > MAX_REGION_BITS ||
    header.bits % header.regionBits !== 0
  ) {
    throw refuse(`region size ${header.regionBits} does not divide bit count ${header.bits}`);
  }
  if (header.hashes < 1 || header.hashes > 64)
    throw refuse(`hash function count ${header.hashes} out of range`);
  return header;
}

/** CRC-32 of a buffer of any size. */
export function crc32Of(data: Uint8Array, initial = 0): number {
  let crc = initial;
  for (let at = 0; at < data.length; at += CHUNK_BYTES) {
    crc = crc32(data.subarray(at, Math.min(data.length, at + CHUNK_BYTES)), crc);
  }
  return crc;
}

/** Writes the filter and its header; the file appears under `path` only once complete. */
export async function writeFilterFile(
  path: string,
  filter: BloomFilter,
  meta: { keys: number; fpRate: number; minCount: number; sourceTag?: Buffer },
): Promise<void> {
  const header = encodeHeader({
    hashes: filter.hashes,
    keys: meta.keys,
    bits: filter.bits,
    regionBits: filter.regionBits,
    bodyBytes: filter.body.length,
    fpRate: meta.fpRate,
    minCount: meta.minCount,
    bodyCrc: crc32Of(filter.body),
    sourceTag: meta.sourceTag ?? Buffer.alloc(32),
  });
  await writeAtomically(path, async (file) => {
    await file.write(header);
    for (let at = 0; at < filter.body.length; at += CHUNK_BYTES) {
      await file.write(filter.body.subarray(at, Math.min(filter.body.length, at + CHUNK_BYTES)));
    }
  });
}

/**
 * Writes through a temporary file and renames it into place, so a service watching `path` never
 * reads a half-written filter.
 */
export async function writeAtomically(
  path: string,
  write: (file: FileHandle) => Promise<void>,
): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, 'w');
  try {
    await write(file);
    await file.sync();
  } catch (err) {
    await file.close();
    await rm(temporary, { force: true });
    throw err;
  }
  await file.close();
  await rename(temporary, path);
}

/** Reads only the header (to tell whether a file is current without loading gigabytes). */
export async function readFilterHeader(path: string): Promise<FilterHeader> {
  const file = await openForLoad(path);
  try {
    const raw = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await file.read(raw, 0, HEADER_BYTES, 0);
    return decodeHeader(path, raw.subarray(0, bytesRead));
  } finally {
    await file.close();
  }
}

/** Reads the whole file once and checks header, length and body checksum before returning it. */
export async function loadFilterFile(path: string): Promise<LoadedFilter> {
  const file = await openForLoad(path);
  try {
    const raw = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await file.read(raw, 0, HEADER_BYTES, 0);
    const header = decodeHeader(path, raw.subarray(0, bytesRead));
    const { size } = await file.stat();
    const expected = HEADER_BYTES + header.bodyBytes;
    if (size < expected) throw new FilterFileError(path, `truncated: ${size} bytes, header says ${expected}`);
    if (size > expected)
      throw new FilterFileError(path, `${size - expected} unexpected bytes after the body`);
    const body = new Uint8Array(header.bodyBytes);
    for (let at = 0; at < body.length;) {
      const { bytesRead: got } = await file.read(
        body,
        at,
        Math.min(CHUNK_BYTES, body.length - at),
        HEADER_BYTES + at,
      );
      if (got === 0) throw new FilterFileError(path, 'truncated while reading the body');
      at += got;
    }
    if (crc32Of(body) !== header.bodyCrc)
      throw new FilterFileError(path, 'body checksum mismatch (corrupt file)');
    return {
      header,
      filter: new BloomFilter(
        { bits: header.bits, hashes: header.hashes, regionBits: header.regionBits },
        body,
      ),
    };
  } finally {
    await file.close();
  }
}

async function openForLoad(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new FilterFileError(path, `cannot open (${code})`);
  }
}
