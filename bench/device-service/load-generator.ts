// Simulated devices for the ingestion benchmark, in a process of their own: connects its share of
// the enrolled devices over mutual TLS, waits for the word to start, then has each device publish
// its events at QoS 1 with up to `inflight` of them awaiting their PUBACK. Started by ingest.ts
// through fork(), which it tells how far it got:
//   { connected }  { ready }  { acked }  { done, acked, seconds }
// Each device speaks MQTT 3.1.1 through mqtt-packet over its own TLS socket, as firmware does,
// rather than through mqtt.js, whose bookkeeping per message would cost this process (sharing the
// machine with the services it measures) several times the CPU of the protocol itself.
import { readFileSync } from 'node:fs';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { parseArgs } from 'node:util';
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { EnrolledDevice } from './enrol.ts';

const { values } = parseArgs({
  options: {
    devices: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    broker: { type: 'string' },
    ca: { type: 'string' },
    events: { type: 'string' },
    inflight: { type: 'string' },
  },
});
const EVENTS = Number(values.events);
const INFLIGHT = Number(values.inflight);
const all = JSON.parse(readFileSync(values.devices ?? '', 'utf8')) as EnrolledDevice[];
const devices = all.slice(Number(values.from), Number(values.to));
const brokerCa = readFileSync(values.ca ?? '');
const broker = new URL(values.broker ?? '');
const KEEPALIVE_S = 600;

export type GeneratorMessage =
  | { connected: number }
  | { ready: true }
  | { acked: number }
  | { done: true; acked: number; seconds: number };

const tell = (message: GeneratorMessage) => process.send?.(message);

/** Devices with publishes waiting for the end of this turn of the event loop. */
let unsent: SimulatedDevice[] = [];
let flushScheduled = false;
function flushAll(): void {
  flushScheduled = false;
  const devices = unsent;
  unsent = [];
  for (const device of devices) device.flush();
}

/** One device's MQTT session: QoS 1 publishes, each settled by its PUBACK. */
class SimulatedDevice {
  private readonly awaiting = new Map<number, () => void>();
  private outbox: Buffer[] = [];
  private nextId = 1;
  private failure: Error | undefined;
  private readonly pinger: NodeJS.Timeout;
  private readonly socket: TLSSocket;
  readonly id: string;

  private constructor(socket: TLSSocket, id: string) {
    this.socket = socket;
    this.id = id;
    // Half the keep-alive, as a client that has nothing else to say sends PINGREQ.
    this.pinger = setInterval(() => socket.write(mqttPacket.generate({ cmd: 'pingreq' })), KEEPALIVE_S * 500);
    this.pinger.unref();
  }

  static connect(device: EnrolledDevice): Promise<SimulatedDevice> {
    const socket = tlsConnect({
      host: broker.hostname,
      port: Number(broker.port),
      ca: brokerCa,
      cert: device.cert,
      key: device.key,
      servername: 'localhost',
    });
    const session = new SimulatedDevice(socket, device.id);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    return new Promise((resolve, reject) => {
      parser.on('packet', (packet: Packet) => {
        if (packet.cmd === 'connack') {
          if (packet.returnCode === 0) resolve(session);
          else reject(new Error(`device ${device.id} refused: CONNACK ${packet.returnCode}`));
        } else if (packet.cmd === 'puback' && packet.messageId !== undefined) {
          session.awaiting.get(packet.messageId)?.();
          session.awaiting.delete(packet.messageId);
        }
      });
      socket.on('data', (chunk: Buffer) => parser.parse(chunk));
      socket.once('error', reject);
      // A device the broker disconnects (a refused publish) would wait for its PUBACKs forever.
      socket.once('close', () =>
        session.fail(new Error(`device ${device.id} was disconnected by the broker`)),
      );
      socket.once('secureConnect', () =>
        socket.write(
          mqttPacket.generate({
            cmd: 'connect',
            protocolId: 'MQTT',
            protocolVersion: 4,
            clean: true,
            keepalive: KEEPALIVE_S,
            clientId: device.id,
            username: device.id,
            password: Buffer.from(device.mqttPassword),
          }),
        ),
      );
    });
  }

  publish(topic: string, payload: string): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const messageId = this.nextId;
    this.nextId = this.nextId === 65_535 ? 1 : this.nextId + 1;
    return new Promise((resolve) => {
      this.awaiting.set(messageId, resolve);
      this.send(
        mqttPacket.generate({ cmd: 'publish', qos: 1, messageId, topic, payload, retain: false, dup: false }),
      );
    });
  }

  /**
   * The publishes a device makes in one turn of the event loop (answering the PUBACKs of one read)
   * leave in one write, as firmware with a queue of events fills a TCP segment: one TLS record and
   * one system call instead of one each per event, on this machine shared with the broker.
   */
  private send(packet: Buffer): void {
    if (this.outbox.push(packet) === 1) unsent.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushAll);
    }
  }

  flush(): void {
    const packets = this.outbox;
    this.outbox = [];
    this.socket.write(packets.length === 1 ? packets[0]! : Buffer.concat(packets));
  }

  private fail(err: Error): void {
    this.failure = err;
    clearInterval(this.pinger);
    if (this.awaiting.size > 0) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
  }

  end(): void {
    clearInterval(this.pinger);
    this.socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
  }
}

const sessions: SimulatedDevice[] = new Array(devices.length);
let next = 0;
let connected = 0;
// A few handshakes at a time: a thousand at once would only queue at the broker's TLS.
await Promise.all(
  Array.from({ length: 16 }, async () => {
    for (let i = next++; i < devices.length; i = next++) {
      sessions[i] = await SimulatedDevice.connect(devices[i]!);
      tell({ connected: ++connected });
    }
  }),
);
tell({ ready: true });
await new Promise<void>((resolve) =>
  process.once('message', (message: { go?: boolean }) => message.go && resolve()),
);

let acked = 0;
const reporter = setInterval(() => tell({ acked }), 250);
const started = performance.now();
await Promise.all(
  sessions.map(async (session) => {
    const topic = `devices/${session.id}/events`;
    let e = 0;
    const window = async () => {
      while (e < EVENTS) {
        const step = e++;
        const event = {
          id: `e-${step}`,
          type: 'cycle.progress',
          time: new Date().toISOString(),
          data: { step, rpm: 1200 },
        };
        await session.publish(topic, JSON.stringify(event));
        acked++;
      }
    };
    await Promise.all(Array.from({ length: INFLIGHT }, window));
  }),
);
clearInterval(reporter);
tell({ done: true, acked, seconds: (performance.now() - started) / 1000 });
await new Promise<void>((resolve) => process.once('message', () => resolve()));
for (const session of sessions) session.end();
process.disconnect();
