import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { Harness } from './harness.js';

/**
 * An MQTT client that does only what a test writes, byte for byte: mqtt.js would answer PUBREC
 * with PUBREL and spread packets over several writes, which the abuse tests must control.
 */
export interface RawSession {
  /** All packets in one write, so the broker reads them together. */
  write(...packets: Packet[]): void;
  /** The next packet of that kind the broker sends. */
  next(cmd: Packet['cmd']): Promise<Packet>;
  closed: Promise<void>;
  end(): Promise<void>;
}

/** A TLS connection to the device listener with D1's certificate, nothing sent yet. */
export function deviceSocket(h: Harness): TLSSocket {
  return tlsConnect({
    host: '127.0.0.1',
    port: Number(new URL(h.broker.endpoints.mqtts).port),
    ca: h.broker.serverCertificate,
    cert: h.d1.cert,
    key: h.d1.key,
  });
}

/** Device D1's session over mutual TLS, connected (CONNACK 0) before it is handed over. */
export async function rawDeviceSession(h: Harness): Promise<RawSession> {
  const socket = deviceSocket(h);
  const received: Packet[] = [];
  const waiting: { cmd: Packet['cmd']; resolve: (p: Packet) => void }[] = [];
  const parser = mqttPacket.parser();
  parser.on('packet', (packet) => {
    const i = waiting.findIndex((w) => w.cmd === packet.cmd);
    if (i >= 0) waiting.splice(i, 1)[0]?.resolve(packet);
    else received.push(packet);
  });
  socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const session: RawSession = {
    write: (...packets) => socket.write(Buffer.concat(packets.map((p) => mqttPacket.generate(p)))),
    next: (cmd) => {
      const i = received.findIndex((p) => p.cmd === cmd);
      if (i >= 0) return Promise.resolve(received.splice(i, 1)[0] as Packet);
      return new Promise((resolve) => waiting.push({ cmd, resolve }));
    },
    closed,
    end: () => (socket.destroy(), closed),
  };
  session.write({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    clientId: 'D1',
    username: 'D1',
    password: Buffer.from('d1-secret'),
  });
  const connack = await Promise.race([session.next('connack'), closed]);
  if (!connack || connack.cmd !== 'connack' || connack.returnCode !== 0) throw new Error('not connected');
  return session;
}
