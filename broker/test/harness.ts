import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { start, type RunningBroker } from '../src/app.js';
import { createCa, createCrl, issueDevice, type TestCa, type TestDevice } from './pki.js';
import { startStandIn, type StandIn } from './webhook-stand-in.js';

export const ADMIN_TOKEN = 'admin-token-'.padEnd(40, 'x');

/** A real broker on random ports, its device CA, device D1's certificate, and the webhook stand-in. */
export interface Harness {
  ca: TestCa;
  d1: TestDevice;
  standIn: StandIn;
  broker: RunningBroker;
  connectDevice(device: TestDevice | undefined, options?: IClientOptions): Promise<MqttClient>;
  connectApp(user: string, token: string, options?: IClientOptions): Promise<MqttClient>;
  /** Ends every client the harness connected. */
  endClients(): Promise<void>;
  close(): Promise<void>;
}

/** Resolves once connected; rejects with the CONNACK refusal or the TLS/socket error. */
export function outcome(client: MqttClient): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', (err) => reject(err));
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const ca = await createCa();
  const d1 = await issueDevice(ca, 'D1');
  const standIn = await startStandIn(ca.pem, await createCrl(ca, []));
  const dataDir = await mkdtemp(join(tmpdir(), 'spincycle-broker-'));
  const broker = await start({
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    HTTP_PORT: '0',
    MQTTS_PORT: '0',
    WSS_PORT: '0',
    DEVICE_CA_URL: `${standIn.url}/ca`,
    DEVICE_CRL_URL: `${standIn.url}/crl.pem`,
    WEBHOOK_URL: `${standIn.url}/webhooks/vernemq`,
    ADMIN_TOKEN,
    ...env,
  });
  const clients: MqttClient[] = [];
  const endClients = async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  };
  const track = (client: MqttClient) => (clients.push(client), outcome(client));
  return {
    ca,
    d1,
    standIn,
    broker,
    connectDevice: (device, options = {}) =>
      track(
        mqtt.connect(broker.endpoints.mqtts, {
          ca: broker.serverCertificate,
          ...(device ? { cert: device.cert, key: device.key } : {}),
          clientId: 'D1',
          username: 'ignored-the-certificate-names-the-device',
          password: 'd1-secret',
          reconnectPeriod: 0,
          connectTimeout: 5000,
          ...options,
        }),
      ),
    connectApp: (user, token, options = {}) =>
      track(
        mqtt.connect(`${broker.endpoints.wss}/mqtt`, {
          ca: broker.serverCertificate,
          clientId: user,
          username: user,
          password: token,
          reconnectPeriod: 0,
          connectTimeout: 5000,
          ...options,
        }),
      ),
    endClients,
    async close() {
      await endClients();
      await broker.close();
      await standIn.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
