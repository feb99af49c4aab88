import { parseArgs } from 'node:util';
import { buildFilter, DEFAULT_FP_RATE } from '../build/builder.js';
import { formatCount } from '../build/progress.js';

/**
 * Builds a filter file from a Pwned Passwords corpus:
 *   node hibp-service/dist/cli/build.js <input> <output> [--fp-rate 1e-6] [--count N] [--min-count N]
 *                                       [--exact-index <path>]
 */
const USAGE =
  'usage: build <input> <output> [--fp-rate 1e-6] [--count N] [--min-count N] [--exact-index <path>]\n';

function fail(message: string): never {
  process.stderr.write(`build: ${message}\n${USAGE}`);
  process.exit(2);
}

function positiveNumber(name: string, text: string | undefined, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isSafeInteger(value))) {
    fail(`--${name} must be a ${integer ? 'non-negative integer' : 'number'}`);
  }
  return value;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        'fp-rate': { type: 'string' },
        count: { type: 'string' },
        'min-count': { type: 'string' },
        'exact-index': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const [input, output] = positionals;
  if (!input || !output || positionals.length > 2) fail('expected an input and an output path');
  const fpRate = positiveNumber('fp-rate', values['fp-rate'], false) ?? DEFAULT_FP_RATE;
  if (!(fpRate > 0 && fpRate < 1)) fail('--fp-rate must be between 0 and 1');
  const report = await buildFilter({
    input,
    output,
    fpRate,
    count: positiveNumber('count', values.count, true),
    minCount: positiveNumber('min-count', values['min-count'], true),
    exactIndex: values['exact-index'],
    progress: process.stderr,
    warn: (message) => process.stderr.write(`build: ${message}\n`),
  });
  const lines = [
    `wrote ${output}: ${formatCount(report.inserted)} hashes, ${report.hashes} probes, ${(report.fileBytes / 2 ** 20).toFixed(1)} MiB`,
    `expected false-positive rate ${report.expectedFpRate.toExponential(2)} (target ${fpRate.toExponential(2)})`,
    `${report.lines} well-formed lines, ${report.malformed} malformed, ${report.belowMinCount} below the minimum count`,
    `${report.seconds.toFixed(1)} s, ${formatCount(report.lines / Math.max(report.seconds, 0.001))} lines/s`,
  ];
  process.stderr.write(lines.map((l) => `build: ${l}\n`).join(''));
}

main().catch((err: unknown) => {
  process.stderr.write(`build: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
