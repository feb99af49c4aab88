#!/usr/bin/env node
/**
 * cert-service benchmark: broker decisions over HTTP with a warm decision cache (against the
 * service's own /health/live through node:http and Fastify beside it), as fast as they go and at the figure's 15,000/s
 * (where p99 is read, open loop, beside a bare TCP server's fixed answer at the same rate: the
 * floor this machine and client leave), cold decisions with every lookup on PostgreSQL, and CSR
 * enrolments per second with the local CA.
 *
 *   npx tsc -b cert-service && node bench/cert-service/bench.mjs [--seconds 10] [--connections 32]
 *        [--devices 2000] [--enrolments 2000] [--enrol-concurrency 16]
 *
 * cert-service runs in a child process; autocannon and the enrolment clients run in this one, the
 * open-loop client (paced-load.c, built with `cc`; paced-client.mjs without one) in another.
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the PostgreSQL server on
 * which a fresh database is created and dropped.
 */
import { spawn } from 'node:child_process';
import { randomBytes, webcrypto } from 'node:crypto';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    devices: { type: 'string', default: '2000' },
    enrolments: { type: 'string', default: '2000' },
    'enrol-concurrency': { type: 'string', default: '16' },
  },
});
const seconds = Number(args.seconds);
const connections = Number(args.connections);
const deviceCount = Number(args.devices);
const enrolmentCount = Number(args.enrolments);

await import('reflect-metadata');
const autocannon = (await import('autocannon')).default;
const { pacedLoad } = await import('./paced-client.mjs');
const { nativeClient } = await import('./native-client.mjs');
const { cpuSeconds, freePort, ioCalls } = await import('../support/process.ts');
const x509 = await import('@peculiar/x509');
x509.cryptoProvider.set(webcrypto);
const { createTestDatabase } = await import(join(root, 'common/dist/testing/index.js'));

const INTERNAL_TOKEN = randomBytes(24).toString('hex');
const deviceId = (i) => `bench-${i}`;
const passwordOf = (i) => `mqtt-password-${i}-0123456789`;
const secretOf = (i) => `enrolment-secret-${i}-0123456789`;

/** What the bench reads of a child process: CPU seconds and read + write system calls so far (NaN without /proc). */
const meters = (pid) => ({
  cpuSeconds: () => cpuSeconds(pid) ?? NaN,
  ioCalls: () => ioCalls(pid) ?? NaN,
});

/** Starts cert-service from its build in a child process and waits until it is ready. */
async function startService(database, extraEnv) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'cert-service/dist/main.js')], {
    env: {
      ...process.env,
      ...database.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      INTERNAL_API_TOKEN: INTERNAL_TOKEN,
      SECRET_PEPPER: 'bench-pepper-0123456789abcdef-0123456789',
      ...extraEnv,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`cert-service exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (attempt > 600) throw new Error('cert-service did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    ...meters(child.pid),
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** The issue's figure: decisions per second with a warm cache, at which p99 must stay under 5 ms. */
const TARGET_RATE = 15_000;

async function internal(url, method, path, body) {
  const response = await fetch(`${url}/internal/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${INTERNAL_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${await response.text()}`);
}

async function seed(url) {
  const queue = Array.from({ length: deviceCount }, (_, i) => i);
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        await internal(url, 'PUT', `/devices/${deviceId(i)}`, {
          status: 'active',
          ownerId: `owner-${i % 500}`,
          mqttPassword: passwordOf(i),
          enrolmentSecret: secretOf(i),
        });
      }
    }),
  );
}

/**
 * An auth_on_publish as VerneMQ sends it: a device publishing its own events. autocannon sends one
 * prebuilt request fastest (its `requests` list rebuilds every request and becomes the bottleneck);
 * the cold run stays cold with one request because its cache keeps nothing.
 */
function publishRequest(i) {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'vernemq-hook': 'auth_on_publish' },
    body: JSON.stringify({
      username: deviceId(i),
      client_id: deviceId(i),
      mountpoint: '',
      qos: 1,
      topic: `devices/${deviceId(i)}/events`,
      payload: Buffer.from('{"cycle":"rinse"}').toString('base64'),
      retain: false,
    }),
  };
}

async function checkAnswer(url, request) {
  const response = await fetch(`${url}/webhooks/vernemq`, request);
  const body = await response.json();
  if (body.result !== 'ok') throw new Error(`benchmark request refused: ${JSON.stringify(body)}`);
}

/**
 * The open-loop client: paced-load.c where this machine can build it, paced-client.mjs otherwise.
 * The figure is read by the native one: the Node client costs as much CPU per request as the
 * service, and its own event loop's delays land in every latency it reads.
 */
const paced = (await nativeClient()) ?? pacedLoad;
const clientName = paced === pacedLoad ? 'Node client (paced-client.mjs)' : 'C client (paced-load.c)';

/** The figure's rate, open loop, with the target's CPU per request. */
async function atRate(target, path, request, rate) {
  const { hostname, port } = new URL(target.url);
  const cpuBefore = target.cpuSeconds();
  const ioBefore = target.ioCalls();
  const result = await paced({
    host: hostname,
    port: Number(port),
    path,
    headers: request.headers,
    body: request.body,
    rate,
    seconds,
    // VerneMQ's default webhook pool (vmq_webhooks.pool_max_connections).
    connections: 100,
    expect: '"ok"',
    accept: (status, body) => status === 200 && body.includes('"ok"'),
  });
  const used = target.cpuSeconds() - cpuBefore;
  return {
    ...result,
    cpuMicroseconds: (used / result.sent) * 1e6,
    ioCallsEach: (target.ioCalls() - ioBefore) / result.sent,
  };
}

/** fixed-answer-server.mjs in a child process: the same rate against it gives the machine's floor. */
async function startFloor() {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [join(root, 'bench/cert-service/fixed-answer-server.mjs'), String(port)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await once(child.stdout, 'data');
  return {
    url: `http://127.0.0.1:${port}`,
    ...meters(child.pid),
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/**
 * Requests/s and p99 move with whatever else the shared machine runs; the service's own CPU time
 * per request does not, and tells a slower service apart from a busier machine.
 */
async function load(service, path, options) {
  const cpuBefore = service.cpuSeconds();
  const result = await autocannon({
    url: `${service.url}${path}`,
    connections,
    duration: seconds,
    ...options,
  });
  const used = service.cpuSeconds() - cpuBefore;
  if (result.non2xx > 0) process.stderr.write(`${result.non2xx} answers were not 2xx\n`);
  return {
    cpuMicroseconds: (used / result.requests.total) * 1e6,
    perSecond: result.requests.average,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

async function withFloor(measure) {
  const floor = await startFloor();
  try {
    await measure(floor); // its JIT warm-up, as the service had
    return await measure(floor);
  } finally {
    await floor.stop();
  }
}

async function enrolmentsPerSecond(url) {
  const csrs = [];
  for (let i = 0; i < enrolmentCount; i++) {
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ]);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=device',
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    csrs.push(csr.toString('pem'));
  }
  const queue = csrs.map((csr, i) => ({ i, csr }));
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Number(args['enrol-concurrency']) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
        const response = await fetch(`${url}/v1/pki/enrolments`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            deviceId: deviceId(item.i),
            csr: item.csr,
            enrolmentSecret: secretOf(item.i),
          }),
        });
        await response.arrayBuffer();
        if (response.status !== 201) failures++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { perSecond: enrolmentCount / elapsed, failures };
}

const rows = [];
const database = await createTestDatabase('bench_cert_service');
try {
  const warm = await startService(database, {});
  try {
    await seed(warm.url);
    const request = publishRequest(0);
    await checkAnswer(warm.url, request); // also fills the cache
    await load(warm, '/webhooks/vernemq', { ...request, duration: 2 }); // JIT warm-up
    const viaNode = await load(warm, '/health/live', {});
    const warmPublish = await load(warm, '/webhooks/vernemq', request);
    // Latency at saturation is set by the client's connection count (Little's law), so a second
    // run offers exactly the figure's rate, open loop, and reads the p99 at that rate.
    const floorAtRate = await withFloor((floor) => atRate(floor, '/webhooks/vernemq', request, TARGET_RATE));
    const warmAtRate = await atRate(warm, '/webhooks/vernemq', request, TARGET_RATE);
    rows.push(['GET /health/live, through node:http and Fastify', viaNode, '', null]);
    rows.push([
      'auth_on_publish, warm cache, as fast as it goes',
      warmPublish,
      `${((warmPublish.perSecond / viaNode.perSecond) * 100).toFixed(0)}% of /health/live's rate`,
      // The issue's figure as it is worded: autocannon, closed loop.
      { perSecond: TARGET_RATE, p99: 5 },
    ]);
    // System calls cost several µs each on this virtual machine: a request needs a read and a write.
    const clientNote = (result) =>
      `${result.ioCallsEach.toFixed(2)} reads + writes per request; ${clientName}: its own send lag p99 ` +
      `${result.client.sendLagP99.toFixed(2)} ms, ${result.client.cpuMicroseconds.toFixed(0)} µs CPU per request`;
    rows.push([
      `TCP floor: a bare \`net\` server's fixed answer, ${TARGET_RATE} offered per second`,
      floorAtRate,
      clientNote(floorAtRate),
      null,
    ]);
    rows.push([
      `auth_on_publish, warm cache, ${TARGET_RATE} offered per second`,
      warmAtRate,
      `${clientNote(warmAtRate)}; p99 ${(warmAtRate.p99 / floorAtRate.p99).toFixed(1)} × the floor's`,
      // A stricter reading than the issue's: kept up (every request answered within the run, give
      // or take the last ones' latency) with the p99 counted from each request's due time.
      { perSecond: TARGET_RATE * 0.99, p99: 5 },
    ]);
    if (enrolmentCount > deviceCount) throw new Error('--enrolments must not exceed --devices');
    const enrol = await enrolmentsPerSecond(warm.url);
    rows.push([
      'CSR enrolment, local CA',
      { perSecond: enrol.perSecond, p99: NaN, errors: enrol.failures, cpuMicroseconds: NaN },
      `concurrency ${args['enrol-concurrency']}`,
      { perSecond: 200 },
    ]);
  } finally {
    await warm.stop();
  }
  // A cache that keeps nothing: every decision is a PostgreSQL lookup.
  const cold = await startService(database, { DECISION_CACHE_TTL_MS: '0' });
  try {
    const request = publishRequest(1);
    await checkAnswer(cold.url, request);
    rows.push([
      'auth_on_publish, cold (PostgreSQL each time)',
      await load(cold, '/webhooks/vernemq', request),
      `${deviceCount} devices in the table`,
      { perSecond: 2_000 },
    ]);
  } finally {
    await cold.stop();
  }
} finally {
  await database.drop();
}

/** The issue's figures; a run on a busy machine can miss them, which is why the table says so. */
const meets = (figures, target) =>
  figures.errors === 0 &&
  figures.perSecond >= target.perSecond &&
  (target.p99 === undefined || figures.p99 < target.p99);
const line = (cells) => `| ${cells.join(' | ')} |\n`;
const table = [
  `\ncert-service benchmark (${availableParallelism()} cores, ${connections} connections, ${seconds} s per HTTP run, ${database.kind})\n\n`,
  line(['measurement', 'per second', 'p99 ms', 'service CPU µs', 'errors', 'target', 'met', 'note']),
  line(['---', '---:', '---:', '---:', '---:', '---', '---', '---']),
  ...rows.map(([name, figures, note, target]) =>
    line([
      name,
      figures.perSecond.toFixed(0),
      Number.isNaN(figures.p99) ? '—' : figures.p99.toFixed(2),
      Number.isNaN(figures.cpuMicroseconds) ? '—' : figures.cpuMicroseconds.toFixed(0),
      String(figures.errors),
      target ? `≥ ${target.perSecond}/s${target.p99 ? `, p99 < ${target.p99} ms` : ''}` : '',
      target ? (meets(figures, target) ? 'yes' : 'no') : '',
      note,
    ]),
  ),
];
process.stdout.write(table.join(''));
