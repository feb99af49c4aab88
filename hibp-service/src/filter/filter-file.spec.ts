import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BloomFilter, bloomParameters } from './bloom.js';
import { HEADER_BYTES, loadFilterFile, readFilterHeader, writeFilterFile } from './filter-file.js';

describe('filter file', () => {
  let dir: string;
  let path: string;
  const digests = randomBytes(20 * 1000);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hibp-file-'));
    path = join(dir, 'test.filter');
    const filter = new BloomFilter(bloomParameters(1000, 1e-6));
    for (let o = 0; o < digests.length; o += 20) filter.add(digests, o);
    await writeFilterFile(path, filter, { keys: 1000, fpRate: 1e-6, minCount: 3 });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function corrupt(edit: (raw: Buffer) => Buffer | void): Promise<void> {
    const raw = await readFile(path);
    await writeFile(path, edit(raw) ?? raw);
  }

  it('loads back what was written, header and bits', async () => {
    const { header, filter } = await loadFilterFile(path);
    expect(header).toMatchObject({
      version: 1,
      layout: 1,
      keys: 1000,
      fpRate: 1e-6,
      minCount: 3,
      hashes: 20,
    });
    expect(header.bits).toBe(filter.bits);
    for (let o = 0; o < digests.length; o += 20) expect(filter.has(digests, o)).toBe(true);
    expect((await readFilterHeader(path)).bodyCrc).toBe(header.bodyCrc);
  });

  it.each<[string, (raw: Buffer) => Buffer | void, RegExp]>([
    ['a flipped body bit', (raw) => void (raw[HEADER_BYTES + 17]! ^= 0x10), /body checksum mismatch/],
    ['a flipped header byte', (raw) => void (raw[20]! ^= 0x01), /header checksum mismatch/],
    ['another magic', (raw) => void raw.write('NOTAFILT', 0, 'latin1'), /bad magic/],
    ['a future format version', (raw) => void raw.writeUInt16BE(2, 8), /format version 2 is not supported/],
    ['a cut header', (raw) => raw.subarray(0, 50), /truncated header \(50 of 128 bytes\)/],
    ['an empty file', () => Buffer.alloc(0), /truncated header/],
    ['trailing bytes', (raw) => Buffer.concat([raw, Buffer.from('x')]), /1 unexpected bytes after the body/],
  ])('refuses a file with %s', async (_case, edit, message) => {
    await corrupt(edit);
    await expect(loadFilterFile(path)).rejects.toThrow(message);
  });

  it('refuses a truncated body, naming both sizes', async () => {
    const { size } = await import('node:fs/promises').then((fs) => fs.stat(path));
    await truncate(path, size - 100);
    await expect(loadFilterFile(path)).rejects.toThrow(`truncated: ${size - 100} bytes, header says ${size}`);
  });

  it('refuses a missing file with the error code, not a stack', async () => {
    await expect(loadFilterFile(join(dir, 'absent.filter'))).rejects.toThrow(
      /absent\.filter refused: cannot open \(ENOENT\)/,
    );
  });
});
