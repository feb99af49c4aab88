#!/usr/bin/env node
/**
 * hibp-service benchmark: build rate, peak memory, size against the Bloom minimum and against xor /
 * binary fuse filters, in-process lookups, HTTP throughput and p99, and the full-corpus projection.
 *
 *   npx tsc -b hibp-service && node bench/hibp/bench.mjs [--count 20000000] [--fp-rate 1e-6]
 *        [--http-seconds 10] [--connections 16] [--package-sample 200000] [--keep-dir DIR]
 *
 * The corpus is synthetic: random SHA-1 values, which are distributed exactly like real ones.
 * Use --count 100000000 for the 100 million figure (4.1 GiB of corpus on disk).
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuSeconds, freePort } from '../support/process.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dist = (path) => join(root, 'hibp-service/dist', path);
const require = createRequire(join(root, 'hibp-service/package.json'));

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '20000000' },
    'fp-rate': { type: 'string', default: '1e-6' },
    'http-seconds': { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    'package-sample': { type: 'string', default: '200000' },
    'keep-dir': { type: 'string' },
    'child-http': { type: 'string' },
  },
});

const FULL_CORPUS = 2e9;
const LAST_VERSIONED_RELEASE = 847e6;
async function main() {
  const count = Number(args.count);
  const fpRate = Number(args['fp-rate']);
  const dir = args['keep-dir'] ?? (await mkdtemp(join(tmpdir(), 'hibp-bench-')));
  const rows = [];
  const row = (name, value, note = '') => {
    rows.push([name, value, note]);
    process.stderr.write(`  ${name}: ${value} ${note}\n`);
  };
  try {
    const { bloomParameters, bloomMinimumBitsPerKey, BloomFilter, BatchInserter } = await import(
      dist('filter/bloom.js')
    );
    const { loadFilterFile } = await import(dist('filter/filter-file.js'));
    const { parseSha1Hex } = await import(dist('filter/sha1.js'));

    process.stderr.write(`corpus: ${count} random SHA-1 lines in ${dir}\n`);
    const corpus = join(dir, 'corpus.txt');
    const genStart = performance.now();
    const sample = await writeCorpus(corpus, count, 100_000);
    row(
      'corpus written',
      `${((await stat(corpus)).size / 2 ** 30).toFixed(2)} GiB`,
      `${seconds(genStart)} s`,
    );

    process.stderr.write('build (child process, --count given: one pass)\n');
    const output = join(dir, 'bench.filter');
    const child = JSON.parse(
      await run(process.execPath, [
        join(root, 'bench/hibp/build-child.mjs'),
        JSON.stringify({ input: corpus, output, count, fpRate }),
      ]),
    );
    const { report } = child;
    const filterBytes = report.bits / 8;
    row(
      'build rate',
      `${fmt(report.lines / report.seconds)} hashes/s`,
      `target ≥ 2M/s; ${report.seconds.toFixed(1)} s for ${fmt(report.lines)}; ${fmt(report.lines / child.cpuSeconds)} per CPU second`,
    );
    row(
      'filter size',
      `${mib(filterBytes)} MiB`,
      `${report.hashes} probes, ${(report.bits / count).toFixed(2)} bits/key`,
    );
    // The insertion batch as the builder sizes it, for the projections below.
    const batchBytes = (params) =>
      BatchInserter.capacityFor({ regions: params.bits / params.regionBits }) * BatchInserter.BYTES_PER_KEY;
    const batch = batchBytes(bloomParameters(count, fpRate));
    row(
      'peak RSS / filter size',
      ratio(child.maxRss / filterBytes),
      `peak ${mib(child.maxRss)} MiB (${child.peakFrom}); target ≤ 1.2; batch ${mib(batch)} MiB`,
    );
    row(
      '(peak RSS − idle node) / filter',
      ratio((child.maxRss - child.baselineRss) / filterBytes),
      `idle node ${mib(child.baselineRss)} MiB`,
    );

    const minimum = bloomMinimumBitsPerKey(fpRate);
    const fingerprintBits = Math.ceil(-Math.log2(fpRate));
    row(
      'size / Bloom minimum',
      ratio(report.bits / count / minimum),
      `minimum ${minimum.toFixed(2)} bits/key; target ≤ 1.10`,
    );
    row(
      'xor filter would need',
      `${(1.23 * fingerprintBits).toFixed(2)} bits/key`,
      `${fingerprintBits}-bit fingerprints (fp ${(2 ** -fingerprintBits).toExponential(1)}), 1.23× slots`,
    );
    row(
      'binary fuse (4-wise) would need',
      `${(1.075 * fingerprintBits).toFixed(2)} bits/key`,
      `${fingerprintBits}-bit fingerprints, 1.075× slots`,
    );
    row('binary fuse 16-bit', `${(1.125 * 16).toFixed(2)} bits/key`, `fp 1.5e-5 (3-wise)`);

    process.stderr.write('lookups (in process)\n');
    const { filter } = await loadFilterFile(output);
    const held = Array.from({ length: 1_000_000 }, () => randomBytes(20));
    const present = sample;
    const negRate = rate(held.length * 3, () => {
      for (let r = 0; r < 3; r++) for (const d of held) filter.has(d);
    });
    const posRate = rate(present.length * 10, () => {
      for (let r = 0; r < 10; r++) for (const d of present) filter.has(d);
    });
    // As the HTTP route does: the hex string parsed into one reused digest, then looked up.
    const digest = new Uint8Array(20);
    const heldHex = held.slice(0, 300_000).map((d) => d.toString('hex').toUpperCase());
    const hexRate = rate(heldHex.length * 3, () => {
      for (let r = 0; r < 3; r++) for (const h of heldHex) filter.has(parseSha1Hex(h, digest));
    });
    const presentHex = present.map((d) => Buffer.from(d).toString('hex').toUpperCase());
    const hexPosRate = rate(presentHex.length * 3, () => {
      for (let r = 0; r < 3; r++) for (const h of presentHex) filter.has(parseSha1Hex(h, digest));
    });
    const perCpu = (r) => `${fmt(r.perCpuSecond)} per CPU second`;
    row(
      'lookups/s, absent keys',
      fmt(negRate.wall),
      `one core; stops at the first clear bit; ${perCpu(negRate)}`,
    );
    row(
      'lookups/s, present keys',
      fmt(posRate.wall),
      `all ${report.hashes} probes; target ≥ 1M/s; ${perCpu(posRate)}`,
    );
    row(
      'checks/s incl. hex parse',
      fmt(hexRate.wall),
      `absent keys, as the HTTP route does; ${perCpu(hexRate)}`,
    );
    row(
      'checks/s incl. hex parse, present',
      fmt(hexPosRate.wall),
      `present keys, all probes; target ≥ 1M/s; ${perCpu(hexPosRate)}`,
    );
    let missing = 0;
    for (const d of present) if (!filter.has(d)) missing++;
    row('inserted keys not found', String(missing), `of ${fmt(present.length)} sampled (must be 0)`);
    const fpTrials = 20_000_000;
    let falsePositives = 0;
    const probe = Buffer.alloc(20 * 100_000);
    for (let done = 0; done < fpTrials; done += 100_000) {
      randomFillSync(probe);
      for (let o = 0; o < probe.length; o += 20) if (filter.has(probe, o)) falsePositives++;
    }
    const expected = fpTrials * report.expectedFpRate;
    row(
      'measured fp rate',
      (falsePositives / fpTrials).toExponential(2),
      `${falsePositives} in ${fmt(fpTrials)} held-out; expected ${expected.toFixed(1)} ± ${Math.sqrt(expected).toFixed(1)}`,
    );

    const n = Number(args['package-sample']);
    if (n > 0) {
      process.stderr.write(`bloom-filters package (${fmt(n)} keys)\n`);
      const { BloomFilter: PackageBloom } = require('bloom-filters');
      const pkg = PackageBloom.create(n, fpRate);
      const keys = Array.from({ length: n }, () => randomBytes(20).toString('hex').toUpperCase());
      const addRate = rate(n, () => keys.forEach((k) => pkg.add(k)));
      const hasRate = rate(n, () => keys.forEach((k) => pkg.has(k)));
      row('bloom-filters package: inserts/s', fmt(addRate.wall), 'XXH64 over the hex string per probe');
      row('bloom-filters package: checks/s', fmt(hasRate.wall), 'present keys');
      const own = new BloomFilter(bloomParameters(n, fpRate));
      const digests = keys.map((k) => parseSha1Hex(k));
      row(
        'own layout, same keys: inserts/s',
        fmt(rate(n, () => digests.forEach((d) => own.add(d))).wall),
        'small filter, cache-resident',
      );
    }

    process.stderr.write(`HTTP (service in a second process, autocannon ${args['http-seconds']} s)\n`);
    const httpDigests = held.slice(0, 50).concat(present.slice(0, 50));
    const http = await httpBench(serviceCommand(output), httpDigests);
    const peer = await httpBench(bareServerCommand(), httpDigests);
    const cpuPerRequest = (h) =>
      h.serviceCpuSeconds === undefined
        ? 'unknown'
        : `${((1e6 * h.serviceCpuSeconds) / h.requests.total).toFixed(0)} µs`;
    row(
      'HTTP requests/s',
      fmt(http.requests.average),
      `target ≥ 15k; ${args.connections} connections, LOG_LEVEL=warn; service CPU ${cpuPerRequest(http)} per request`,
    );
    row('HTTP p99 latency', `${http.latency.p99} ms`, `p50 ${http.latency.p50} ms; target < 5 ms`);
    row('HTTP errors / non-2xx', `${http.errors} / ${http.non2xx}`, '');
    row(
      'peer: bare node:http requests/s',
      fmt(peer.requests.average),
      `fixed answer, same client, run right after; CPU ${cpuPerRequest(peer)} per request`,
    );
    row('peer: bare node:http p99 latency', `${peer.latency.p99} ms`, `p50 ${peer.latency.p50} ms`);

    for (const [label, keys] of [
      ['full corpus (2 G)', FULL_CORPUS],
      ['v8 release (847 M)', LAST_VERSIONED_RELEASE],
    ]) {
      const params = bloomParameters(keys, fpRate);
      const bytes = params.bits / 8;
      // Filter and batch scale with the count; the rest (runtime, buffers) is as measured here.
      const peak = bytes + batchBytes(params) + (child.maxRss - filterBytes - batch);
      row(
        `${label}: filter size`,
        `${(bytes / 1e9).toFixed(2)} GB`,
        `${gib(bytes)} GiB; build peak ≈ ${gib(peak)} GiB (${ratio(peak / bytes)}: filter, batch, fixed overhead as measured); service ${gib(2 * bytes)} GiB while it reloads`,
      );
      row(
        `${label}: build time`,
        `${(keys / (report.lines / report.seconds) / 60).toFixed(0)} min`,
        'at the measured rate; plus a count pass unless --count is given, and disk reads of the real file',
      );
    }

    const width = Math.max(...rows.map((r) => r[0].length));
    const valueWidth = Math.max(...rows.map((r) => r[1].length));
    process.stdout.write(
      `\nhibp filter benchmark: ${fmt(count)} hashes, target fp ${fpRate}, node ${process.version}\n`,
    );
    for (const [name, value, note] of rows) {
      process.stdout.write(`${name.padEnd(width)}  ${value.padStart(valueWidth)}  ${note}\n`);
    }
  } finally {
    if (!args['keep-dir']) await rm(dir, { recursive: true, force: true });
  }
}

/** Writes `count` random `HEX:COUNT` lines; returns the digests of a sample of them. */
async function writeCorpus(path, count, sampleSize) {
  const out = createWriteStream(path, { highWaterMark: 1 << 22 });
  const batch = 100_000;
  const sample = [];
  const every = Math.max(1, Math.floor(count / sampleSize));
  for (let done = 0; done < count; done += batch) {
    const n = Math.min(batch, count - done);
    const raw = randomBytes(20 * n);
    const hex = Buffer.from(raw.toString('hex').toUpperCase(), 'latin1');
    const text = Buffer.allocUnsafe(n * 44);
    let at = 0;
    for (let i = 0; i < n; i++) {
      hex.copy(text, at, 40 * i, 40 * i + 40);
      at += 40;
      at += text.write(`:${1 + (i % 97)}\n`, at, 'latin1');
      if ((done + i) % every === 0 && sample.length < sampleSize)
        sample.push(raw.subarray(20 * i, 20 * i + 20));
    }
    if (!out.write(text.subarray(0, at))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return sample;
}

/** hibp-service itself, answering from the benchmark's filter. */
function serviceCommand(filterPath) {
  return (port) => ({
    argv: [join(root, 'hibp-service/dist/main.js')],
    env: { PORT: String(port), LOG_LEVEL: 'warn', HIBP_FILTER_PATH: filterPath, HIBP_WATCH_FILTER: 'false' },
  });
}

/**
 * The peer: node:http answering every request, readiness probe included, with the same fixed body:
 * no routing, metrics or filter. What it reaches is what this machine and client allow any Node.js
 * HTTP service.
 */
function bareServerCommand() {
  const source = `
    const http = require('node:http');
    const body = '{"pwned":false}';
    http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
        res.end(body);
      });
    }).listen(Number(process.env.PORT), '127.0.0.1');`;
  return (port) => ({ argv: ['-e', source], env: { PORT: String(port) } });
}

/**
 * The service runs in one process and autocannon in another, apart from this one, whose heap of
 * test digests would otherwise add garbage-collection pauses to the measured latency. The service's
 * CPU time over the run (Linux only) tells its own cost per request apart from a busy machine's.
 */
async function httpBench(command, digests) {
  const port = await freePort();
  const { argv, env } = command(port);
  const service = spawn(process.execPath, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    await waitReady(`http://127.0.0.1:${port}/health/ready`);
    const bodies = digests.map((d) => JSON.stringify({ sha1: Buffer.from(d).toString('hex').toUpperCase() }));
    const spec = { url: `http://127.0.0.1:${port}`, bodies };
    const cpuBefore = cpuSeconds(service.pid);
    const result = JSON.parse(
      await run(process.execPath, [fileURLToPath(import.meta.url), '--child-http', JSON.stringify(spec)]),
    );
    const cpuAfter = cpuSeconds(service.pid);
    if (cpuBefore !== undefined && cpuAfter !== undefined) result.serviceCpuSeconds = cpuAfter - cpuBefore;
    return result;
  } finally {
    service.kill('SIGTERM');
    await once(service, 'exit');
  }
}

async function childHttp({ url, bodies }) {
  const autocannon = createRequire(join(root, 'package.json'))('autocannon');
  const result = await autocannon({
    url,
    connections: Number(args.connections),
    duration: Number(args['http-seconds']),
    // autocannon cycles through these on each connection: a mix of leaked and unknown hashes.
    requests: bodies.map((body) => ({
      method: 'POST',
      path: '/v1/check',
      headers: { 'content-type': 'application/json' },
      body,
    })),
  });
  process.stdout.write(JSON.stringify(result));
}

async function waitReady(url) {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('service did not become ready');
}

function run(command, argv) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('exit', (code) =>
      code === 0 ? resolveRun(out) : reject(new Error(`${command} exited with ${code}`)),
    );
  });
}

/**
 * Operations per second of wall clock, and per second of this process's CPU time: on a shared
 * machine the first falls with the load, the second is what one core does.
 */
function rate(operations, body) {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  body();
  const cpu = cpuSecondsSince(cpuBefore);
  return {
    wall: operations / ((performance.now() - started) / 1000),
    perCpuSecond: operations / cpu,
  };
}

function cpuSecondsSince(before) {
  const { user, system } = process.cpuUsage(before);
  return (user + system) / 1e6;
}

const seconds = (from) => ((performance.now() - from) / 1000).toFixed(1);
const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
const gib = (bytes) => (bytes / 2 ** 30).toFixed(2);
const ratio = (value) => `${value.toFixed(3)}×`;
function fmt(value) {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(0);
}

// Last, so that every helper above is initialised when main runs.
if (args['child-http']) {
  await childHttp(JSON.parse(args['child-http']));
} else {
  await main();
}
