#!/usr/bin/env node
/**
 * The builder alone in a process of its own, loading what the build CLI loads and nothing of the
 * benchmark, so that its peak memory is the builder's. bench.mjs runs it:
 *
 *   node bench/hibp/build-child.mjs '{"input": …, "output": …, "count": …, "fpRate": …}'
 *
 * and reads one JSON line from stdout: the build report, the idle RSS once the builder is loaded,
 * the peak RSS (and where it was read) and the CPU seconds of the build.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { input, output, count, fpRate } = JSON.parse(process.argv[2]);
const { buildFilter } = await import(join(root, 'hibp-service/dist/build/builder.js'));

/**
 * The kernel's own high-water mark, exact where sampling could miss a short peak. It starts afresh
 * in a new program (unlike resourceUsage().maxRSS, which a child inherits from a large parent).
 * Undefined off Linux, where the sampled peak stands in.
 */
function kernelPeakRss() {
  try {
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'latin1'));
    return kib ? Number(kib[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const baselineRss = process.memoryUsage.rss();
let sampledRss = baselineRss;
const sampler = setInterval(() => (sampledRss = Math.max(sampledRss, process.memoryUsage.rss())), 20);
const cpuBefore = process.cpuUsage();
const report = await buildFilter({ input, output, count, fpRate });
const { user, system } = process.cpuUsage(cpuBefore);
clearInterval(sampler);
sampledRss = Math.max(sampledRss, process.memoryUsage.rss());
const kernelPeak = kernelPeakRss();
process.stdout.write(
  JSON.stringify({
    report,
    baselineRss,
    maxRss: kernelPeak ?? sampledRss,
    peakFrom: kernelPeak === undefined ? 'sampled every 20 ms' : 'VmHWM',
    cpuSeconds: (user + system) / 1e6,
  }),
);
