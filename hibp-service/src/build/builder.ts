import { stat } from 'node:fs/promises';
import { BatchInserter, BloomFilter, bloomParameters, expectedFpRate } from '../filter/bloom.js';
import { writeFilterFile } from '../filter/filter-file.js';
import { ExactIndexWriter } from '../range/exact-index.js';
import { readCorpus, type CorpusStats, type ReadCorpusOptions } from './corpus.js';
import { Progress, type ProgressStream } from './progress.js';

export const DEFAULT_FP_RATE = 1e-6;

export interface BuildOptions {
  input: string;
  output: string;
  fpRate?: number;
  /** Number of hashes the filter is sized for; when absent a first pass counts them. */
  count?: number;
  /** Drop hashes seen fewer than this many times (bare-hash lines count as one occurrence). */
  minCount?: number;
  /** Also write the sorted exact index that serves GET /range. */
  exactIndex?: string;
  progress?: ProgressStream;
  /** Where malformed-line samples and warnings go. */
  warn?: (message: string) => void;
}

export interface BuildReport {
  lines: number;
  malformed: number;
  /** Well-formed lines dropped by the minimum count. */
  belowMinCount: number;
  inserted: number;
  sizedFor: number;
  bits: number;
  hashes: number;
  fileBytes: number;
  /** False-positive rate of the filter with what was actually inserted. */
  expectedFpRate: number;
  seconds: number;
}

/** Streams the corpus into a filter file (and optionally the exact index); memory is the filter. */
export async function buildFilter(options: BuildOptions): Promise<BuildReport> {
  const started = performance.now();
  const fpRate = options.fpRate ?? DEFAULT_FP_RATE;
  const minCount = options.minCount ?? 0;
  const warn = options.warn ?? (() => undefined);
  const { size } = await stat(options.input);

  const sizedFor = options.count ?? (await countPass(options, size, minCount));
  const params = bloomParameters(sizedFor, fpRate);
  const filter = new BloomFilter(params);
  const inserter = new BatchInserter(filter, BatchInserter.capacityFor(filter));
  const index = options.exactIndex ? new ExactIndexWriter(options.exactIndex) : undefined;
  let inserted = 0;
  let belowMinCount = 0;
  let stats: CorpusStats;
  try {
    stats = await passOverCorpus(options, size, 'build', {
      onDigest(digest, count) {
        if (count < minCount) {
          belowMinCount++;
          return;
        }
        inserter.add(digest);
        index?.add(digest, count);
        inserted++;
      },
      onMalformed: (line, excerpt) => warn(`line ${line} is malformed: ${JSON.stringify(excerpt)}`),
    });
  } catch (err) {
    index?.abort();
    throw err;
  }
  inserter.flush();
  if (inserted > sizedFor) {
    warn(
      `${inserted} hashes inserted into a filter sized for ${sizedFor}: its false-positive rate exceeds the target`,
    );
  }
  index?.finish();
  await writeFilterFile(options.output, filter, { keys: inserted, fpRate, minCount });
  return {
    lines: stats.lines,
    malformed: stats.malformed,
    belowMinCount,
    inserted,
    sizedFor,
    bits: params.bits,
    hashes: params.hashes,
    fileBytes: (await stat(options.output)).size,
    expectedFpRate: expectedFpRate(params, inserted),
    seconds: (performance.now() - started) / 1000,
  };
}

/** First pass: how many lines will be inserted, so that the filter is sized before the second. */
async function countPass(options: BuildOptions, size: number, minCount: number): Promise<number> {
  let kept = 0;
  await passOverCorpus(options, size, 'count', {
    onDigest(_digest, count) {
      if (count >= minCount) kept++;
    },
  });
  return kept;
}

/** One read of the corpus, with its own progress bar. */
async function passOverCorpus(
  options: BuildOptions,
  size: number,
  label: string,
  handlers: Pick<ReadCorpusOptions, 'onDigest' | 'onMalformed'>,
): Promise<CorpusStats> {
  const progress =
    options.progress && new Progress({ stream: options.progress, label, total: size, unit: 'lines' });
  const stats = await readCorpus(options.input, {
    ...handlers,
    onProgress: (s) => progress?.update(s.bytesRead, s.lines),
  });
  progress?.finish(stats.bytesRead, stats.lines);
  return stats;
}
