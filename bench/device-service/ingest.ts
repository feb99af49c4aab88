// Event ingestion benchmark, with the stack's processes as `npm start` runs them
// (tools/src/stack/services.ts): cert-service, the broker and device-service each in its own Node
// process, and the simulated devices in load-generator processes. Devices publish events at QoS 1
// over mutual TLS; the broker decides through cert-service's webhooks; device-service ingests them
// through its persistent session (WSS, as in the stack) into PostgreSQL. Prints events/s from the
// first publish to the last row committed, and between a tenth and nine tenths of the rows stored;
// checks that every published event was stored exactly once; puts PostgreSQL's own COPY rate for
// the same rows beside it; and says how much CPU each process used meanwhile.
//   npx tsc -b && node bench/device-service/ingest.ts [--devices 1000] [--events 1000] [--inflight 10]
//     [--generators 1] [--generator native|node] [--batch-size 500] [--profile <dir>] [--logs <dir>]
//     [--log-level info]
// --events: 1,000 each makes a run of about a minute. Sustained means that long: a backlog the
//   broker could not clear (mqemitter's queue, shifted from the front) halved the rate only after
//   the first ten seconds, which a run of 200 each never reached; and the first second or two of
//   a run are the fleet's first publishes waiting together for their decisions.
// --inflight: events a device may have awaiting their PUBACK, as firmware keeps a small window
//   (1: each device waits for the PUBACK of one event before it sends the next).
// --generator: the simulated devices in C (load-generator.c, the default, where it builds) or in
//   Node (load-generator.ts, which costs this shared machine several times the CPU per event).
// --profile: each process writes a V8 CPU profile (--cpu-prof) there, and window.json the
//   monotonic times (µs, as in the profiles) between which events were published and stored.
// --logs: each service's output goes to <dir>/<service>.log, and the broker's metrics at the end.
// DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the server on which
// fresh databases are created and dropped. Uses the built dist of every service.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import { admin, databaseUrl } from './database.ts';
import { enrolDevices } from './enrol.ts';
import { startGenerator, type Generator, type GeneratorKind } from './generators.ts';
import type { GeneratorMessage } from './load-generator.ts';
import { cpuSeconds as cpuOf, freePort, ioCalls } from '../support/process.ts';
import { ServiceProcess } from './processes.ts';

/** A process's CPU seconds so far, 0 once it is gone. */
const cpuSeconds = (pid: number | undefined): number => cpuOf(pid) ?? 0;

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' },
    events: { type: 'string', default: '1000' },
    inflight: { type: 'string', default: '10' },
    generators: { type: 'string', default: '1' },
    generator: { type: 'string', default: 'native' },
    'batch-size': { type: 'string', default: '500' },
    profile: { type: 'string' },
    logs: { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
  },
});
const DEVICES = Number(values.devices);
const EVENTS = Number(values.events);
const INFLIGHT = Number(values.inflight);
const GENERATORS = Math.min(Number(values.generators), DEVICES);
const TOTAL = DEVICES * EVENTS;
const CORES = availableParallelism();
const profileDir = values.profile ? resolve(values.profile) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });
const execArgv = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
const logDir = values.logs ? resolve(values.logs) : undefined;
if (logDir) mkdirSync(logDir, { recursive: true });
const launch = (name: string, env: Record<string, string>) =>
  ServiceProcess.start(name, `${name}/dist/main.js`, env, {
    execArgv,
    logFile: logDir && join(logDir, `${name}.log`),
  });

const secret = () => randomBytes(24).toString('hex');
const names = {
  device: `bench_ingest_${randomBytes(4).toString('hex')}`,
  cert: `bench_ingest_cert_${randomBytes(4).toString('hex')}`,
};
const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-'));

// The access proxy's part: a signing key and its JWKS, for the factory's provisioning call.
const { privateKey, publicKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256' };
const jwks = createServer((_req, res) => res.end(JSON.stringify({ keys: [jwk] }))).listen(0, '127.0.0.1');
await once(jwks, 'listening');
const jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
const adminToken = await new SignJWT({ scope: 'admin.provision', roles: ['admin'] })
  .setProtectedHeader({ alg: 'ES256', kid: 'bench' })
  .setSubject('bench-admin')
  .setIssuer('http://bench/')
  .setAudience('device-service')
  .setExpirationTime('30m')
  .sign(privateKey);

const ports = {
  cert: await freePort(),
  brokerHttp: await freePort(),
  mqtts: await freePort(),
  wss: await freePort(),
  device: await freePort(),
};
const tokens = { certInternal: secret(), brokerAdmin: secret() };
// Ready lines and the ingester's subscription are logged at info, and little else is.
const common = { LOG_LEVEL: values['log-level'], HOST: '127.0.0.1', DATA_DIR: dir };
const brokerCaFile = join(dir, 'broker', 'tls', 'server.crt');
const services: ServiceProcess[] = [];
const generators: Generator[] = [];
let generatorKind: GeneratorKind = values.generator === 'node' ? 'node' : 'native';
const db = new pg.Client({ connectionString: databaseUrl(names.device) });

for (const name of Object.values(names)) await admin(`CREATE DATABASE "${name}"`);
try {
  // Settings as in tools/src/stack/services.ts, with the addresses of this run.
  const certService = launch('cert-service', {
    ...common,
    PORT: String(ports.cert),
    DATABASE_URL: databaseUrl(names.cert),
    INTERNAL_API_TOKEN: tokens.certInternal,
    SECRET_PEPPER: secret(),
    BROKER_ADMIN_URL: `http://127.0.0.1:${ports.brokerHttp}`,
    BROKER_ADMIN_TOKEN: tokens.brokerAdmin,
    // The broker here can be told to forget at once, so it may reuse answers (docs/broker.md).
    WEBHOOK_CACHE_MAX_AGE_S: '30',
  });
  services.push(certService);
  await certService.waitFor(/cert-service ready/);
  const certServiceUrl = `http://127.0.0.1:${ports.cert}`;

  const broker = launch('broker', {
    ...common,
    HTTP_PORT: String(ports.brokerHttp),
    MQTTS_PORT: String(ports.mqtts),
    WSS_PORT: String(ports.wss),
    DEVICE_CA_URL: `${certServiceUrl}/v1/pki/ca`,
    DEVICE_CRL_URL: `${certServiceUrl}/v1/pki/crl.pem`,
    WEBHOOK_URL: `${certServiceUrl}/webhooks/vernemq`,
    ADMIN_TOKEN: tokens.brokerAdmin,
    // A device in the field reports a few events a minute; here each sends its whole share at
    // once, and a thousand connect from one address.
    MAX_PUBLISH_PER_SECOND: '100000',
    MAX_CONNECTS_PER_MINUTE_PER_IP: '1000000',
    // The first publish of every device misses the broker's decision cache, and all thousand
    // arrive within a second: on two shared cores cert-service answers the last of them after
    // more than the default 2 s, which would refuse them (fail closed).
    WEBHOOK_TIMEOUT_MS: '10000',
  });
  services.push(broker);
  await broker.waitFor(/broker ready/);

  const deviceService = launch('device-service', {
    ...common,
    PORT: String(ports.device),
    DATABASE_URL: databaseUrl(names.device),
    SECRET_PEPPER: secret(),
    IDENTITY_JWKS_URL: jwksUrl,
    IDENTITY_ISSUER: 'http://bench/',
    CERT_SERVICE_URL: certServiceUrl,
    CERT_SERVICE_TOKEN: tokens.certInternal,
    MQTT_URL: `wss://localhost:${ports.wss}/mqtt`,
    MQTT_CA_FILE: brokerCaFile,
    MQTT_SERVICE_SECRET: secret(),
    INGEST_BATCH_SIZE: values['batch-size'],
  });
  services.push(deviceService);
  await deviceService.waitFor(/event ingestion subscribed/);
  const deviceServiceUrl = `http://127.0.0.1:${ports.device}`;
  await db.connect();

  const provisioned: { id: string; mqttPassword: string; enrolmentSecret: string }[] = [];
  for (let from = 0; from < DEVICES; from += 500) {
    const batch = Array.from({ length: Math.min(500, DEVICES - from) }, (_, i) => ({
      serial: `BENCH-${from + i}`,
      model: 'SC-W800',
      hardwareRevision: 'r1',
    }));
    const response = await fetch(`${deviceServiceUrl}/admin/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ devices: batch }),
    });
    if (response.status !== 201)
      throw new Error(`provisioning failed: ${response.status} ${await response.text()}`);
    provisioned.push(...((await response.json()) as { devices: typeof provisioned }).devices);
  }
  // Devices connect as they do in the field: mutual TLS with their own enrolled certificate.
  const devices = await enrolDevices(certServiceUrl, provisioned);
  const devicesFile = join(dir, 'devices.json');
  writeFileSync(devicesFile, JSON.stringify(devices), { mode: 0o600 });

  let generatorFailed = false;
  const connected = new Array<number>(GENERATORS).fill(0);
  const acked = new Array<number>(GENERATORS).fill(0);
  const finished: { acked: number; seconds: number }[] = [];
  const ready: Promise<unknown>[] = [];
  for (let g = 0; g < GENERATORS; g++) {
    const from = Math.floor((g * DEVICES) / GENERATORS);
    const to = Math.floor(((g + 1) * DEVICES) / GENERATORS);
    const started = await startGenerator(generatorKind, {
      devicesFile,
      devices,
      from,
      to,
      host: '127.0.0.1',
      port: ports.mqtts,
      caFile: brokerCaFile,
      events: EVENTS,
      inflight: INFLIGHT,
      execArgv,
    });
    generatorKind = started.kind;
    const generator = started.generator;
    generators.push(generator);
    generator.once('exit', (code) => {
      if (code !== 0) generatorFailed = true;
    });
    generator.on('message', (message: GeneratorMessage) => {
      if ('connected' in message) connected[g] = message.connected;
      else if ('acked' in message && 'done' in message) finished.push(message);
      else if ('acked' in message) acked[g] = message.acked;
    });
    ready.push(
      new Promise((resolveReady, reject) => {
        generator.on('message', (message: GeneratorMessage) => 'ready' in message && resolveReady(null));
        generator.once('exit', (code) => reject(new Error(`a load generator exited with ${code}`)));
      }),
    );
  }
  const showConnected = setInterval(() => {
    const total = connected.reduce((a, b) => a + b, 0);
    if (process.stderr.isTTY) process.stderr.write(`\rconnected ${total}/${DEVICES}`);
  }, 200);
  await Promise.all(ready);
  clearInterval(showConnected);
  process.stderr.write(
    `\n${DEVICES} devices connected in ${GENERATORS} load generator(s) (${generatorKind}); publishing ${TOTAL} events, ` +
      `${INFLIGHT} in flight per device\n`,
  );

  const processes = [
    ...services.map((s) => ({ name: s.name, pid: s.child.pid })),
    ...generators.map((g, i) => ({ name: `load generator ${i + 1}`, pid: g.pid })),
  ];
  // PostgreSQL's share: the backends device-service holds open on its database.
  const backends = async (): Promise<number[]> =>
    (
      await db.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [names.device],
      )
    ).rows.map((r) => r.pid);
  const postgresPids = await backends();
  const cpuBefore = processes.map((p) => cpuSeconds(p.pid));
  const ioBefore = processes.map((p) => ioCalls(p.pid) ?? NaN);
  const postgresBefore = new Map(postgresPids.map((pid) => [pid, cpuSeconds(pid)]));

  const started = performance.now();
  for (const generator of generators) generator.send({ go: true });
  // Profiles are stamped with the monotonic clock in µs: this is the part of them to read.
  const monotonicUs = () => process.hrtime.bigint() / 1000n;
  const windowStart = monotonicUs();
  process.stderr.write(`publishing from ${new Date().toISOString()}\n`);
  const count = async () => Number((await db.query('SELECT count(*) AS n FROM events')).rows[0].n);
  // The identity's high-water mark is one index probe, where count(*) reads the whole table (at a
  // million rows, once a second cost PostgreSQL some 8 % of a core, taken from what it measures):
  // progress is read from the mark, and rows are counted only once it says the last may be in.
  // Batches commit side by side, so the mark can run ahead of the rows visible.
  const highWater = async () =>
    Number((await db.query('SELECT coalesce(max(id), 0) AS n FROM events')).rows[0].n);
  let stored = 0;
  let highest = 0;
  let storedAt = started;
  let movedAt = started;
  let lastShown = started;
  const line = (at: number) =>
    `${((at - started) / 1000).toFixed(1).padStart(6)} s  acknowledged by the broker ` +
    `${String(acked.reduce((a, b) => a + b, 0)).padStart(8)}  stored up to id ${String(highest).padStart(8)}\n`;
  // When a tenth and nine tenths of the rows were in: the rate between leaves out the first
  // publishes, which wait for cert-service's decisions, and the last stragglers.
  const marks: { at: number; rows: number }[] = [];
  while (stored < TOTAL) {
    await new Promise((r) => setTimeout(r, 10));
    const now = performance.now();
    const rows = await highWater();
    if (rows !== highest) [highest, movedAt] = [rows, now];
    if (marks.length < 2 && rows >= TOTAL * (marks.length === 0 ? 0.1 : 0.9)) marks.push({ at: now, rows });
    if (rows >= TOTAL) {
      const n = await count();
      if (n !== stored) [stored, storedAt] = [n, performance.now()];
    }
    if (now - lastShown >= 1000) {
      process.stderr.write(line(now));
      lastShown = now;
    }
    if (now - Math.max(movedAt, storedAt) > 30_000 || generatorFailed) break;
  }
  if (stored < TOTAL) [stored, storedAt] = [await count(), Math.max(movedAt, storedAt)];
  process.stderr.write(line(storedAt));
  if (profileDir)
    writeFileSync(
      join(profileDir, 'window.json'),
      JSON.stringify({ start: String(windowStart), end: String(monotonicUs()) }),
    );
  const seconds = (storedAt - started) / 1000;
  const cpu = processes.map((p, i) => cpuSeconds(p.pid) - cpuBefore[i]!);
  const io = processes.map((p, i) => (ioCalls(p.pid) ?? NaN) - ioBefore[i]!);
  // A backend opened during the run counts whole.
  const postgresCpu = [...new Set([...postgresPids, ...(await backends())])].reduce(
    (sum, pid) => sum + Math.max(0, cpuSeconds(pid) - (postgresBefore.get(pid) ?? 0)),
    0,
  );
  while (finished.length < GENERATORS && performance.now() - storedAt < 30_000)
    await new Promise((r) => setTimeout(r, 50));
  const publishSeconds = Math.max(...finished.map((f) => f.seconds));
  const publishedCount = finished.reduce((sum, f) => sum + f.acked, 0);
  const distinct = Number(
    (await db.query('SELECT count(DISTINCT (device_id, event_id)) AS n FROM events')).rows[0].n,
  );
  const brokerMetrics = await (await fetch(`http://127.0.0.1:${ports.brokerHttp}/metrics`)).text();
  if (logDir) writeFileSync(join(logDir, 'broker.metrics'), brokerMetrics);
  const metric = (name: string, hook: string) =>
    brokerMetrics
      .split('\n')
      .filter((l) => l.startsWith(`mqtt_webhook_duration_seconds_${name}`) && l.includes(`hook="${hook}"`))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  // cert-service's own measure of the same calls, from request read to answer written: the rest
  // of the broker's figure is waiting in the broker (its event loop, its pool of connections).
  const certMetrics = await (await fetch(`${certServiceUrl}/metrics`)).text();
  const certSeconds = (name: string) =>
    certMetrics
      .split('\n')
      .filter((l) => l.startsWith(`http_request_duration_seconds_${name}`) && l.includes('webhooks'))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  const webhookCalls = (hook: string) => {
    const calls = metric('count', hook);
    return `${hook} ${calls} (mean ${((metric('sum', hook) / calls) * 1000).toFixed(0)} ms)`;
  };

  // The same rows through PostgreSQL's own bulk path, into an identical table.
  const csv = join(dir, 'events.csv');
  const now = new Date().toISOString();
  const lines: string[] = [];
  for (const d of devices) {
    for (let e = 0; e < EVENTS; e += 1) {
      lines.push(`${d.id},e-${e},cycle.progress,"{""step"": ${e}, ""rpm"": 1200}",${now},${now}`);
    }
  }
  writeFileSync(csv, `${lines.join('\n')}\n`);
  await db.query('CREATE TABLE events_copy (LIKE events INCLUDING ALL)');
  const copyStarted = performance.now();
  execFileSync('psql', [
    databaseUrl(names.device),
    '-qc',
    `\\copy events_copy (device_id, event_id, type, payload, device_time, received_at) FROM '${csv}' CSV`,
  ]);
  const copySeconds = (performance.now() - copyStarted) / 1000;

  const usage = [
    ...processes.map((p, i) => ({ name: p.name, used: cpu[i]!, calls: io[i]! })),
    { name: 'PostgreSQL backends', used: postgresCpu, calls: NaN },
  ];
  const total = usage.reduce((sum, u) => sum + u.used, 0);
  const stack = total - cpu.slice(services.length).reduce((sum, used) => sum + used, 0);
  usage.push({ name: 'all of them', used: total, calls: NaN });
  const rate = stored / seconds;
  const [tenth, ninth] = marks;
  const steady = tenth && ninth ? (ninth.rows - tenth.rows) / ((ninth.at - tenth.at) / 1000) : NaN;
  const copyRate = TOTAL / copySeconds;
  const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const out = [
    '',
    `${DEVICES} devices × ${EVENTS} events = ${TOTAL} events at QoS 1, ${INFLIGHT} in flight per device, ` +
      `ingester batches of up to ${values['batch-size']}, simulated devices in ${generatorKind === 'native' ? 'C' : 'Node'}`,
    '',
    row(['path', 'events/s', 'seconds']),
    row(['---', '---:', '---:']),
    row(['devices → broker → device-service → PostgreSQL', rate.toFixed(0), seconds.toFixed(2)]),
    row([
      'the same, from 10 % to 90 % of the rows stored',
      steady.toFixed(0),
      tenth && ninth ? ((ninth.at - tenth.at) / 1000).toFixed(2) : '',
    ]),
    row(['PostgreSQL COPY, same rows', copyRate.toFixed(0), copySeconds.toFixed(2)]),
    row([
      'devices publishing (PUBACK from the broker)',
      (publishedCount / publishSeconds).toFixed(0),
      publishSeconds.toFixed(2),
    ]),
    '',
    `ratio ingestion / COPY: ${((rate / copyRate) * 100).toFixed(0)} %`,
    `published ${publishedCount}, stored ${stored}, distinct ${distinct}: ` +
      (publishedCount === TOTAL && stored === TOTAL && distinct === TOTAL
        ? 'none lost or duplicated'
        : 'MISMATCH'),
    `webhook calls: ${webhookCalls('auth_on_register')}, ${webhookCalls('auth_on_publish')}; ` +
      "the other publishes were decided from the broker's cache; cert-service's own mean for all " +
      `its webhook answers ${((certSeconds('sum') / certSeconds('count')) * 1000).toFixed(1)} ms`,
    '',
    `CPU while ingesting (${seconds.toFixed(2)} s; ${CORES} cores are ${CORES * 100} %):`,
    '',
    row(['process', 'CPU s', '% of one core', 'µs per event', 'reads + writes per event']),
    row(['---', '---:', '---:', '---:', '---:']),
    ...usage.map(({ name, used, calls }) =>
      row([
        name,
        used.toFixed(2),
        ((used / seconds) * 100).toFixed(0),
        ((used / stored) * 1e6).toFixed(0),
        Number.isNaN(calls) ? '' : (calls / stored).toFixed(2),
      ]),
    ),
    '',
    // Were the machine theirs alone and every core busy, this is as fast as these costs allow.
    `${CORES} cores at ${((total / stored) * 1e6).toFixed(0)} µs of CPU per event: at most ` +
      `${((CORES * stored) / total).toFixed(0)} events/s; ${((CORES * stored) / stack).toFixed(0)} ` +
      'were the simulated devices elsewhere',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  for (const generator of generators) {
    if (generator.exitCode !== null || !generator.connected) continue;
    const exited = new Promise((resolve) => generator.once('exit', resolve));
    generator.send({ stop: true });
    await exited;
  }
  await db.end().catch(() => undefined);
  // Dependents first, as the stack stops them.
  for (const service of [...services].reverse()) await service.stop();
  jwks.close();
  for (const name of Object.values(names)) await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  rmSync(dir, { recursive: true, force: true });
}
