// Broker benchmark: our broker (aedes + webhooks) against Mosquitto on the same machine, with the
// same CA, the same device certificates and the same load generator, in one run.
//   node bench/broker/bench.ts [--devices 5000] [--publishers 1000] [--messages 20]
// Prints connects/s for a connect storm over mutual TLS, and messages/s delivered from publishing
// devices to subscribed owners at QoS 0 and QoS 1, with our/Mosquitto ratios.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { createCa, createCrl, issueDevice, type TestDevice } from '../../broker/test/pki.ts';
import { freePort } from '../support/process.ts';
import { selfSigned } from '../../broker/dist/tls/server-identity.js';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '5000' },
    publishers: { type: 'string', default: '1000' },
    messages: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '100' },
  },
});
const DEVICES = Number(values.devices);
const PUBLISHERS = Math.min(Number(values.publishers), DEVICES);
const MESSAGES = Number(values.messages);
const CONCURRENCY = Number(values.concurrency);
const PAYLOAD = Buffer.alloc(200, 'x');

function progress(label: string, done: number, total: number): void {
  if (process.stderr.isTTY) process.stderr.write(`\r${label}: ${done}/${total}   `);
  else if (done === total || done % Math.ceil(total / 10) === 0)
    process.stderr.write(`${label}: ${done}/${total}\n`);
}

async function waitForLine(child: ChildProcess, pattern: RegExp): Promise<void> {
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${seen.slice(-2000)}`)));
  });
}

interface Target {
  name: string;
  port: number;
  stop(): Promise<void>;
}

const work = mkdtempSync(join(tmpdir(), 'spincycle-bench-broker-'));
const children: ChildProcess[] = [];
const stopChild = async (child: ChildProcess) => {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
};

async function main(): Promise<void> {
  process.stderr.write(`issuing ${DEVICES + PUBLISHERS} client certificates…\n`);
  const ca = await createCa();
  const devices: TestDevice[] = [];
  for (let i = 0; i < DEVICES; i++) {
    devices.push(await issueDevice(ca, `D${i}`));
    progress('certificates', i + 1, DEVICES);
  }
  const owners: TestDevice[] = [];
  for (let i = 0; i < PUBLISHERS; i++) owners.push(await issueDevice(ca, `owner-${i}`));
  const server = await selfSigned(['localhost'], ['127.0.0.1']);
  const files = {
    ca: join(work, 'ca.pem'),
    crl: join(work, 'crl.pem'),
    cert: join(work, 'server.crt'),
    key: join(work, 'server.key'),
  };
  writeFileSync(files.ca, ca.pem);
  writeFileSync(files.crl, await createCrl(ca, []));
  writeFileSync(files.cert, server.cert);
  writeFileSync(files.key, server.key, { mode: 0o600 });

  const targets: Target[] = [await startOurs(files), await startMosquitto(files)];
  const rows: Record<string, Record<string, number>> = {};
  for (const target of targets) {
    rows[target.name] = {
      'connects/s': await connectStorm(target, devices, server.cert),
      'QoS 0 msgs/s': await throughput(target, devices, owners, server.cert, 0),
      'QoS 1 msgs/s': await throughput(target, devices, owners, server.cert, 1),
    };
    await target.stop();
  }
  report(rows);
}

async function startOurs(files: Record<string, string>): Promise<Target> {
  const webhookPort = await freePort();
  const webhook = spawn(process.execPath, [
    'bench/broker/allow-all-webhook.ts',
    String(webhookPort),
    files.ca!,
    files.crl!,
  ]);
  children.push(webhook);
  await waitForLine(webhook, /ready/);
  const port = await freePort();
  const broker = spawn(process.execPath, ['broker/dist/main.js'], {
    env: {
      ...process.env,
      // The broker has no PORT setting and refuses one that a shell may have set.
      PORT: '',
      // The readiness line is logged at info.
      LOG_LEVEL: 'info',
      DATA_DIR: join(work, 'data'),
      HTTP_PORT: '0',
      MQTTS_PORT: String(port),
      WSS_PORT: '0',
      TLS_CERT_FILE: files.cert,
      TLS_KEY_FILE: files.key,
      DEVICE_CA_URL: `http://127.0.0.1:${webhookPort}/ca`,
      DEVICE_CRL_URL: `http://127.0.0.1:${webhookPort}/crl.pem`,
      WEBHOOK_URL: `http://127.0.0.1:${webhookPort}/webhooks/vernemq`,
      MAX_CONNECTS_PER_MINUTE_PER_IP: '1000000',
      MAX_PUBLISH_PER_SECOND: '100000',
      // Thousands of connects and publishes queue at the one webhook process on two cores; the
      // default 2 s would refuse (fail closed) what is only slow here.
      WEBHOOK_TIMEOUT_MS: '15000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(broker);
  await waitForLine(broker, /broker ready/);
  return {
    name: 'spincycle broker',
    port,
    stop: async () => (await stopChild(broker), await stopChild(webhook)),
  };
}

async function startMosquitto(files: Record<string, string>): Promise<Target> {
  const port = await freePort();
  const conf = join(work, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      // When started as root Mosquitto switches to its own user, which cannot read our 0700 files.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'per_listener_settings false',
      'allow_anonymous true',
      `listener ${port} 127.0.0.1`,
      `cafile ${files.ca}`,
      `certfile ${files.cert}`,
      `keyfile ${files.key}`,
      'require_certificate true',
      'use_identity_as_username true',
      'tls_version tlsv1.2',
      'max_inflight_messages 20',
      'max_queued_messages 100000',
      'log_type error',
      '',
    ].join('\n'),
  );
  const child = spawn('mosquitto', ['-c', conf, '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await waitForLine(child, / running/);
  return { name: 'mosquitto', port, stop: () => stopChild(child) };
}

function connect(target: Target, identity: TestDevice, clientId: string, ca: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(`mqtts://127.0.0.1:${target.port}`, {
      ca,
      cert: identity.cert,
      key: identity.key,
      clientId,
      username: clientId,
      password: 'bench',
      reconnectPeriod: 0,
      connectTimeout: 60_000,
      keepalive: 600,
    });
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

async function inBatches<T>(items: T[], run: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) {
        const index = next++;
        await run(items[index]!, index);
      }
    }),
  );
}

async function connectStorm(target: Target, devices: TestDevice[], ca: string): Promise<number> {
  const clients: MqttClient[] = [];
  let done = 0;
  const started = performance.now();
  await inBatches(devices, async (device, i) => {
    clients.push(await connect(target, device, `D${i}`, ca));
    progress(`${target.name} connect storm`, ++done, devices.length);
  });
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.endAsync(true)));
  return devices.length / seconds;
}

async function throughput(
  target: Target,
  devices: TestDevice[],
  owners: TestDevice[],
  ca: string,
  qos: 0 | 1,
): Promise<number> {
  const subscribers: MqttClient[] = [];
  const publishers: MqttClient[] = [];
  await inBatches(owners, async (owner, i) => {
    const client = await connect(target, owner, `owner-${i}`, ca);
    await client.subscribeAsync(`devices/D${i}/state`, { qos });
    subscribers.push(client);
  });
  await inBatches(owners, async (_owner, i) => {
    publishers.push(await connect(target, devices[i]!, `D${i}`, ca));
  });
  const expected = owners.length * MESSAGES;
  let received = 0;
  let lastAt = performance.now();
  for (const s of subscribers)
    s.on('message', () => {
      received++;
      lastAt = performance.now();
    });
  const started = performance.now();
  await Promise.all(
    publishers.map(async (client) => {
      const topic = `devices/${client.options.clientId}/state`;
      for (let m = 0; m < MESSAGES; m++) await client.publishAsync(topic, PAYLOAD, { qos });
    }),
  );
  // QoS 0 may be dropped under load: stop when everything arrived or nothing has for 3 s.
  while (received < expected && performance.now() - lastAt < 3000) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const rate = received / ((lastAt - started) / 1000);
  if (received < expected)
    process.stderr.write(`${target.name} QoS ${qos}: ${received}/${expected} delivered\n`);
  delivered[`${target.name} QoS ${qos}`] = received / expected;
  await Promise.all([...subscribers, ...publishers].map((c) => c.endAsync(true)));
  return rate;
}

const delivered: Record<string, number> = {};

function report(rows: Record<string, Record<string, number>>): void {
  const ours = rows['spincycle broker']!;
  const peer = rows.mosquitto!;
  const lines = [
    '',
    `broker benchmark: ${DEVICES} devices, ${PUBLISHERS} publishers × ${MESSAGES} messages of ${PAYLOAD.length} bytes`,
    '',
    '| figure | spincycle broker | mosquitto | ratio | target |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const figure of Object.keys(ours)) {
    const ratio = ours[figure]! / peer[figure]!;
    lines.push(
      `| ${figure} | ${ours[figure]!.toFixed(0)} | ${peer[figure]!.toFixed(0)} | ${(ratio * 100).toFixed(0)} % | ≥ 50 % |`,
    );
  }
  lines.push(
    '',
    'delivered: ' +
      Object.entries(delivered)
        .map(([k, v]) => `${k} ${(v * 100).toFixed(1)} %`)
        .join(', '),
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

main()
  .catch((err: Error) => {
    process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const child of children) await stopChild(child);
    rmSync(work, { recursive: true, force: true });
  });
