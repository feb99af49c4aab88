import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadFilterFile } from '../filter/filter-file.js';
import { parseSha1Hex } from '../filter/sha1.js';
import { ExactIndex } from '../range/exact-index.js';
import { buildFilter } from './builder.js';
import { readCorpus } from './corpus.js';

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex').toUpperCase();
const randomHashes = (count: number) =>
  Array.from({ length: count }, () => randomBytes(20).toString('hex').toUpperCase());

describe('readCorpus', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'hibp-corpus-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('reads SHA1:COUNT and bare lines in either case, LF or CRLF, and counts the malformed ones', async () => {
    const [a, b, c, d] = randomHashes(4) as [string, string, string, string];
    const text = [
      `${a}:12`,
      `${b.toLowerCase()}`,
      `${c}:3\r`,
      '',
      `${d.slice(0, 39)}:1`, // one digit short
      `${d.slice(0, 39)}G:1`, // not hex
      `${d}:`, // count missing
      `${d}:12x`, // count not a number
      `${d}extra`,
      `${d}:7`, // the last line, without a newline
    ].join('\n');
    const path = join(dir, 'mixed.txt');
    await writeFile(path, text);
    const seen: [string, number][] = [];
    const malformed: number[] = [];
    const stats = await readCorpus(path, {
      onDigest: (digest, count) => seen.push([Buffer.from(digest).toString('hex').toUpperCase(), count]),
      onMalformed: (line) => malformed.push(line),
      malformedSamples: 10,
    });
    expect(seen).toEqual([
      [a, 12],
      [b, 1],
      [c, 3],
      [d, 7],
    ]);
    expect(stats).toMatchObject({ lines: 4, malformed: 5 });
    expect(malformed).toEqual([5, 6, 7, 8, 9]);
  });

  it('reads gzip input, lines split across read buffers included', async () => {
    const hashes = randomHashes(40_000); // about 1.8 MB: several read buffers
    const text = hashes.map((h, i) => `${h}:${i + 1}`).join('\n') + '\n';
    await writeFile(join(dir, 'plain.txt'), text);
    await writeFile(join(dir, 'corpus.gz'), gzipSync(text));
    for (const file of ['plain.txt', 'corpus.gz']) {
      let index = 0;
      let mismatches = 0;
      const stats = await readCorpus(join(dir, file), {
        onDigest(digest, count) {
          if (Buffer.from(digest).toString('hex').toUpperCase() !== hashes[index] || count !== index + 1)
            mismatches++;
          index++;
        },
      });
      expect({ file, lines: stats.lines, malformed: stats.malformed, mismatches }).toEqual({
        file,
        lines: hashes.length,
        malformed: 0,
        mismatches: 0,
      });
    }
  });
});

describe('buildFilter', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'hibp-build-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('finds every inserted hash after a round trip through the file (count pass, gzip input)', async () => {
    const hashes = randomHashes(30_000);
    const input = join(dir, 'corpus.txt.gz');
    await writeFile(
      input,
      gzipSync(hashes.map((h, i) => (i % 2 ? `${h}:${i}` : h.toLowerCase())).join('\n')),
    );
    const output = join(dir, 'out.filter');
    const report = await buildFilter({ input, output, fpRate: 1e-6 });
    expect(report).toMatchObject({
      lines: 30_000,
      malformed: 0,
      inserted: 30_000,
      sizedFor: 30_000,
      hashes: 20,
    });
    expect(report.expectedFpRate).toBeLessThanOrEqual(1e-6);
    const { filter, header } = await loadFilterFile(output);
    expect(header.keys).toBe(30_000);
    expect(hashes.filter((h) => !filter.has(parseSha1Hex(h)!))).toEqual([]);
  });

  it('drops hashes seen fewer than --min-count times and reports malformed lines without failing', async () => {
    const [rare, common] = [sha1('rarely-used-passphrase'), sha1('password123')];
    const input = join(dir, 'corpus.txt');
    await writeFile(input, `${rare}:1\nnot a hash\n${common}:250000\n\n`);
    const warnings: string[] = [];
    const output = join(dir, 'out.filter');
    const report = await buildFilter({ input, output, minCount: 10, warn: (m) => warnings.push(m) });
    expect(report).toMatchObject({ lines: 2, malformed: 1, belowMinCount: 1, inserted: 1, sizedFor: 1 });
    expect(warnings).toEqual(['line 2 is malformed: "not a hash"']);
    const { filter, header } = await loadFilterFile(output);
    expect(header.minCount).toBe(10);
    expect(filter.has(parseSha1Hex(common)!)).toBe(true);
    expect(filter.has(parseSha1Hex(rare)!)).toBe(false);
  });

  it('warns when a given --count is lower than what was inserted', async () => {
    const input = join(dir, 'corpus.txt');
    await writeFile(input, randomHashes(500).join('\n'));
    const warnings: string[] = [];
    const report = await buildFilter({
      input,
      output: join(dir, 'o.filter'),
      count: 100,
      warn: (m) => warnings.push(m),
    });
    expect(report.expectedFpRate).toBeGreaterThan(1e-6);
    expect(warnings).toEqual([
      '500 hashes inserted into a filter sized for 100: its false-positive rate exceeds the target',
    ]);
  });

  it('writes an exact index that answers ranges in the HIBP format, counts of repeated hashes summed', async () => {
    const hashes = randomHashes(5_000);
    // Two hashes sharing the first five hex digits, one of them listed twice.
    const sibling = `${hashes[0]!.slice(0, 5)}${'0'.repeat(35)}`;
    const lines = [...hashes.map((h, i) => `${h}:${i + 1}`), `${sibling}:7`, `${hashes[0]}:10`];
    const input = join(dir, 'corpus.txt');
    await writeFile(input, lines.join('\n'));
    const indexPath = join(dir, 'exact.index');
    await buildFilter({ input, output: join(dir, 'o.filter'), exactIndex: indexPath });
    const index = await ExactIndex.open(indexPath);
    try {
      expect(index.records).toBe(5_001);
      const prefix = hashes[0]!.slice(0, 5);
      const expected = [
        ...hashes.map((h, i) => [h, i + 1] as const).filter(([h]) => h.startsWith(prefix) && h !== hashes[0]),
        [hashes[0]!, 11] as const,
        [sibling, 7] as const,
      ]
        .sort(([x], [y]) => (x < y ? -1 : 1))
        .map(([h, count]) => `${h.slice(5)}:${count}`)
        .join('\r\n');
      expect(await index.range(Number.parseInt(prefix, 16))).toBe(expected);
      // Every hash is under its own prefix.
      const sample = hashes[1234]!;
      expect((await index.range(Number.parseInt(sample.slice(0, 5), 16))).split('\r\n')).toContain(
        `${sample.slice(5)}:1235`,
      );
    } finally {
      await index.close();
    }
  });
});
