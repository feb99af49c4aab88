// Event ingestion benchmark: simulated devices publish events at QoS 1 through the broker (broker/,
// deciding through cert-service's webhooks); device-service ingests them into PostgreSQL. Prints
// events/s from the first publish to the last row committed, checks that every published event
// was stored exactly once, and puts PostgreSQL's own COPY rate for the same rows beside it.
//   npx tsc -b device-service && node bench/device-service/ingest.ts [--devices 1000] [--events 50]
// DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the server on which
// fresh databases are created and dropped. Uses the built dist of cert-service and broker.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { start as startBroker } from '@spincycle/broker';
import { start as startCertService } from '@spincycle/cert-service';
import { startWith } from '@spincycle/device-service';
import { admin, databaseUrl } from './database.ts';
import { enrolDevices } from './enrol.ts';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' },
    events: { type: 'string', default: '50' },
    'batch-size': { type: 'string', default: '1000' },
  },
});
const DEVICES = Number(values.devices);
const EVENTS = Number(values.events);
const TOTAL = DEVICES * EVENTS;
const TOKEN = randomBytes(24).toString('hex');

const names = [
  `bench_ingest_${randomBytes(4).toString('hex')}`,
  `bench_ingest_cert_${randomBytes(4).toString('hex')}`,
];
const urlOf = databaseUrl;

// The access proxy's part: a signing key and its JWKS, for the factory's provisioning call.
const { privateKey, publicKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256' };
const jwks = createServer((_req, res) => res.end(JSON.stringify({ keys: [jwk] }))).listen(0, '127.0.0.1');
await new Promise((resolve) => jwks.once('listening', resolve));
const jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
const adminToken = await new SignJWT({ scope: 'admin.provision', roles: ['admin'] })
  .setProtectedHeader({ alg: 'ES256', kid: 'bench' })
  .setSubject('bench-admin')
  .setIssuer('http://bench/')
  .setAudience('device-service')
  .setExpirationTime('10m')
  .sign(privateKey);

async function freePort(): Promise<number> {
  const server = createTcpServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

for (const name of names) await admin(`CREATE DATABASE "${name}"`);
const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-'));
const quiet = { LOG_LEVEL: 'warn', HOST: '127.0.0.1', DATA_DIR: dir };
// As in the embedded stack (tools/src/stack/services.ts): the broker may reuse cert-service's
// answers for 30 s because cert-service tells it at once, through its admin API, when access ends.
const brokerHttpPort = await freePort();
const brokerAdminToken = randomBytes(24).toString('hex');
const certService = await startCertService({
  ...quiet,
  PORT: '0',
  DATABASE_URL: urlOf(names[1] ?? ''),
  INTERNAL_API_TOKEN: TOKEN,
  SECRET_PEPPER: randomBytes(24).toString('hex'),
  WEBHOOK_CACHE_MAX_AGE_S: '30',
  BROKER_ADMIN_URL: `http://127.0.0.1:${brokerHttpPort}`,
  BROKER_ADMIN_TOKEN: brokerAdminToken,
});
const broker = await startBroker({
  ...quiet,
  HTTP_PORT: String(brokerHttpPort),
  ADMIN_TOKEN: brokerAdminToken,
  MQTTS_PORT: '0',
  WSS_PORT: '0',
  WS_DEV_PORT: '0',
  DEVICE_CA_URL: `${certService.url}/v1/pki/ca`,
  DEVICE_CRL_URL: `${certService.url}/v1/pki/crl.pem`,
  WEBHOOK_URL: `${certService.url}/webhooks/vernemq`,
  MAX_PUBLISH_PER_SECOND: '100000',
  MAX_CONNECTS_PER_MINUTE_PER_IP: '1000000',
  // Every publish waits for cert-service's auth_on_publish; a loaded machine needs the slack.
  WEBHOOK_TIMEOUT_MS: '10000',
});
const deviceService = await startWith({})({
  ...quiet,
  PORT: '0',
  DATABASE_URL: urlOf(names[0] ?? ''),
  SECRET_PEPPER: randomBytes(24).toString('hex'),
  IDENTITY_JWKS_URL: jwksUrl,
  IDENTITY_ISSUER: 'http://bench/',
  CERT_SERVICE_URL: certService.url,
  CERT_SERVICE_TOKEN: TOKEN,
  MQTT_URL: broker.endpoints.ws ?? '',
  MQTT_SERVICE_SECRET: randomBytes(24).toString('hex'),
  INGEST_BATCH_SIZE: values['batch-size'],
});
const db = new pg.Client({ connectionString: urlOf(names[0] ?? '') });
await db.connect();
const clients: MqttClient[] = [];

try {
  const provisioned: { id: string; mqttPassword: string; enrolmentSecret: string }[] = [];
  for (let from = 0; from < DEVICES; from += 500) {
    const batch = Array.from({ length: Math.min(500, DEVICES - from) }, (_, i) => ({
      serial: `BENCH-${from + i}`,
      model: 'SC-W800',
      hardwareRevision: 'r1',
    }));
    const response = await fetch(`${deviceService.url}/admin/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ devices: batch }),
    });
    if (response.status !== 201)
      throw new Error(`provisioning failed: ${response.status} ${await response.text()}`);
    provisioned.push(...((await response.json()) as { devices: typeof provisioned }).devices);
  }
  // Devices connect as they do in the field: mutual TLS with their own enrolled certificate.
  const devices = await enrolDevices(certService.url, provisioned);
  const brokerCa = readFileSync(join(dir, 'broker', 'tls', 'server.crt'));
  for (const [i, d] of devices.entries()) {
    const client = mqtt.connect(broker.endpoints.mqtts, {
      clientId: d.id,
      username: d.id,
      password: d.mqttPassword,
      cert: d.cert,
      key: d.key,
      ca: brokerCa,
      reconnectPeriod: 0,
    });
    clients.push(client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    if (process.stderr.isTTY) process.stderr.write(`\rconnected ${i + 1}/${DEVICES}`);
  }
  process.stderr.write(`\n${DEVICES} devices connected; publishing ${TOTAL} events\n`);

  const started = process.hrtime.bigint();
  await Promise.all(
    clients.map(async (client, c) => {
      // A device the broker disconnects (a refused publish) would wait for its PUBACK forever.
      const dropped = new Promise<never>((_, reject) =>
        client.once('close', () => reject(new Error(`device ${c} was disconnected by the broker`))),
      );
      for (let e = 0; e < EVENTS; e += 1) {
        const event = {
          id: `e-${e}`,
          type: 'cycle.progress',
          time: new Date().toISOString(),
          data: { step: e, rpm: 1200 },
        };
        await Promise.race([
          client.publishAsync(`devices/${devices[c]?.id}/events`, JSON.stringify(event), { qos: 1 }),
          dropped,
        ]);
      }
    }),
  );
  const published = Number(process.hrtime.bigint() - started) / 1e9;
  let stored = 0;
  while (stored < TOTAL) {
    stored = Number((await db.query('SELECT count(*) AS n FROM events')).rows[0].n);
    if (stored < TOTAL) await new Promise((resolve) => setTimeout(resolve, 100));
    if (Number(process.hrtime.bigint() - started) / 1e9 > published + 120) break;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const distinct = Number(
    (await db.query('SELECT count(DISTINCT (device_id, event_id)) AS n FROM events')).rows[0].n,
  );

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
  const copyStarted = process.hrtime.bigint();
  execFileSync('psql', [
    urlOf(names[0] ?? ''),
    '-qc',
    `\\copy events_copy (device_id, event_id, type, payload, device_time, received_at) FROM '${csv}' CSV`,
  ]);
  const copySeconds = Number(process.hrtime.bigint() - copyStarted) / 1e9;

  console.log(
    `${DEVICES} devices × ${EVENTS} events = ${TOTAL} events at QoS 1, batch size ${values['batch-size']}`,
  );
  console.log(`${'path'.padEnd(40)} ${'events/s'.padStart(10)} ${'seconds'.padStart(8)}`);
  console.log(
    `${'broker → device-service → PostgreSQL'.padEnd(40)} ${(stored / seconds).toFixed(0).padStart(10)} ${seconds.toFixed(2).padStart(8)}`,
  );
  console.log(
    `${'PostgreSQL COPY, same rows'.padEnd(40)} ${(TOTAL / copySeconds).toFixed(0).padStart(10)} ${copySeconds.toFixed(2).padStart(8)}`,
  );
  console.log(
    `${'devices publishing (PUBACK from broker)'.padEnd(40)} ${(TOTAL / published).toFixed(0).padStart(10)} ${published.toFixed(2).padStart(8)}`,
  );
  console.log(`ratio ingestion / COPY: ${(stored / seconds / (TOTAL / copySeconds)).toFixed(2)}`);
  console.log(
    `published ${TOTAL}, stored ${stored}, distinct ${distinct}: ${stored === TOTAL && distinct === TOTAL ? 'none lost or duplicated' : 'MISMATCH'}`,
  );
} finally {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  await db.end();
  await deviceService.close();
  await broker.close();
  await certService.close();
  jwks.close();
  for (const name of names) await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  rmSync(dir, { recursive: true, force: true });
}
