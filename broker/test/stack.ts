import { randomBytes, sign, webcrypto } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { RunningService } from '@spincycle/common';
import {
  createTestDatabase,
  laterPort,
  requiredSecretsEnv,
  serviceTestEnv,
  type TestDatabase,
} from '@spincycle/common/testing';
import { startWith as startCertServiceWith, type CertServiceEmbedding } from '@spincycle/cert-service';
import { config as certServiceConfig } from '@spincycle/cert-service/config';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { start as startBroker, type RunningBroker } from '../src/app.js';
import { outcome } from './harness.js';

/**
 * The broker with the real cert-service behind it, each on its own ports and database. Only the
 * OAuth2 server is a stand-in, built from Hydra's introspection contract. cert-service publishes
 * its renewal notices through the broker's development WebSocket listener.
 */
const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const tokens: Record<string, string> = { 'alice-token': 'alice', 'bob-token': 'bob', 'tech-token': 'tech' };

export const PUBLIC_ENROLMENT_URL = 'https://api.spincycle.test/v1/pki/enrolments';

/** Hydra's POST /admin/oauth2/introspect: form-encoded `token`, RFC 7662 answer. */
async function startIntrospection(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const token = new URLSearchParams(body).get('token') ?? '';
      const sub = tokens[token];
      const answer = sub
        ? {
            active: true,
            sub,
            client_id: 'spincycle-app',
            scope: 'openid offline_access',
            exp: Math.floor(Date.now() / 1000) + 900,
            iat: Math.floor(Date.now() / 1000),
            token_type: 'Bearer',
            token_use: 'access_token',
          }
        : { active: false };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/admin/oauth2/introspect`,
    server,
  };
}

/** A device as it is after enrolment: its own key, the certificate it was issued, its MQTT password. */
export interface EnrolledDevice {
  id: string;
  cert: string;
  key: string;
  serial: string;
  notAfter: string;
  mqttPassword: string;
}

export interface Stack {
  certService: RunningService;
  broker: RunningBroker;
  internal(method: string, path: string, body?: unknown): Promise<Response>;
  /** Provisions the device with its secrets, then enrols it by CSR as the device does on first start. */
  enrolDevice(id: string, ownerId: string): Promise<EnrolledDevice>;
  /** Renewal by CSR, the proof signed with the device's current key; the device with its new certificate. */
  renew(device: EnrolledDevice): Promise<EnrolledDevice>;
  connectDevice(device: EnrolledDevice): Promise<MqttClient>;
  /** Over WSS: client id `<user>:phone` unless the options say otherwise. */
  connectApp(user: string, password: string, options?: IClientOptions): Promise<MqttClient>;
  close(): Promise<void>;
}

async function keysAndCsr(deviceId: string) {
  const keys = (await webcrypto.subtle.generateKey(ECDSA, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${deviceId}`,
    keys,
    signingAlgorithm: ECDSA,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { csr, key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

export async function startStack(embedding: CertServiceEmbedding = {}): Promise<Stack> {
  const internalToken = randomBytes(32).toString('base64url');
  const adminToken = randomBytes(32).toString('base64url');
  const clients: MqttClient[] = [];
  const db: TestDatabase = await createTestDatabase('broker-e2e');
  const dataDir = await mkdtemp(join(tmpdir(), 'spincycle-broker-e2e-'));
  const introspection = await startIntrospection();
  const [brokerHttpPort, brokerWsPort] = [await laterPort(), await laterPort()];
  const certService = await startCertServiceWith(embedding)(
    serviceTestEnv(db, {
      PORT: '0',
      ...requiredSecretsEnv(certServiceConfig),
      INTERNAL_API_TOKEN: internalToken,
      OAUTH2_INTROSPECTION_URL: introspection.url,
      BROKER_ADMIN_URL: `http://127.0.0.1:${brokerHttpPort}`,
      BROKER_ADMIN_TOKEN: adminToken,
      MQTT_URL: `ws://127.0.0.1:${brokerWsPort}/mqtt`,
      MQTT_SERVICE_SECRET: randomBytes(24).toString('base64url'),
      PUBLIC_ENROLMENT_URL,
    }),
  );
  const broker = await startBroker({
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    HTTP_PORT: String(brokerHttpPort),
    MQTTS_PORT: '0',
    WSS_PORT: '0',
    WS_DEV_PORT: String(brokerWsPort),
    DEVICE_CA_URL: `${certService.url}/v1/pki/ca`,
    DEVICE_CRL_URL: `${certService.url}/v1/pki/crl.pem`,
    WEBHOOK_URL: `${certService.url}/webhooks/vernemq`,
    ADMIN_TOKEN: adminToken,
    CRL_REFRESH_SECONDS: '86400',
  });

  const internal = (method: string, path: string, body?: unknown) =>
    fetch(`${certService.url}/internal/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${internalToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const enrol = async (deviceId: string, body: Record<string, string>, key: string) => {
    const response = await fetch(`${certService.url}/v1/pki/enrolments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId, ...body }),
    });
    if (response.status !== 201) throw new Error(`enrolment answered ${response.status}`);
    const issued = (await response.json()) as { certificate: string; serial: string; notAfter: string };
    return { id: deviceId, cert: issued.certificate, key, serial: issued.serial, notAfter: issued.notAfter };
  };
  const track = (client: MqttClient) => (clients.push(client), outcome(client));

  return {
    certService,
    broker,
    internal,
    async enrolDevice(id, ownerId) {
      const mqttPassword = randomBytes(16).toString('hex');
      const enrolmentSecret = randomBytes(16).toString('hex');
      const provisioned = await internal('PUT', `/devices/${id}`, {
        status: 'active',
        ownerId,
        mqttPassword,
        enrolmentSecret,
      });
      if (provisioned.status >= 300) throw new Error(`provisioning answered ${provisioned.status}`);
      // The device makes its own key pair; only the CSR leaves it.
      const { csr, key } = await keysAndCsr(id);
      return { ...(await enrol(id, { csr: csr.toString('pem'), enrolmentSecret }, key)), mqttPassword };
    },
    async renew(device) {
      const { csr, key } = await keysAndCsr(device.id);
      const proof = sign('sha256', Buffer.from(csr.rawData), { key: device.key, dsaEncoding: 'der' });
      const body = { csr: csr.toString('pem'), certificate: device.cert, proof: proof.toString('base64') };
      return { ...(await enrol(device.id, body, key)), mqttPassword: device.mqttPassword };
    },
    connectDevice: (device) =>
      track(
        mqtt.connect(broker.endpoints.mqtts, {
          ca: broker.serverCertificate,
          cert: device.cert,
          key: device.key,
          clientId: device.id,
          username: device.id,
          password: device.mqttPassword,
          reconnectPeriod: 0,
        }),
      ),
    connectApp: (user, password, options = {}) =>
      track(
        mqtt.connect(`${broker.endpoints.wss}/mqtt`, {
          ca: broker.serverCertificate,
          clientId: `${user}:phone`,
          username: user,
          password,
          reconnectPeriod: 0,
          ...options,
        }),
      ),
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true)));
      await broker.close();
      await certService.close();
      introspection.server.close();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
