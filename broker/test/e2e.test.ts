import { randomBytes, webcrypto } from 'node:crypto';
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
import { start as startCertService } from '@spincycle/cert-service';
import { config as certServiceConfig } from '@spincycle/cert-service/config';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start as startBroker, type RunningBroker } from '../src/app.js';
import { outcome } from './harness.js';

/**
 * The whole path with the real cert-service: a device enrols by CSR with its one-time secret,
 * connects over mutual TLS with the certificate it got, publishes its state, and its owner's app
 * (WSS, access token) receives it; a stranger's subscription is refused with QoS 128; revoking the
 * device's certificate ends its live session at once. Only the OAuth2 server is a stand-in, built
 * from Hydra's introspection contract.
 */
const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const tokens: Record<string, string> = { 'alice-token': 'alice', 'bob-token': 'bob', 'tech-token': 'tech' };

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

describe('device to owner through the real cert-service', () => {
  const internalToken = randomBytes(32).toString('base64url');
  const adminToken = randomBytes(32).toString('base64url');
  const mqttPassword = randomBytes(16).toString('hex');
  const enrolmentSecret = randomBytes(16).toString('hex');
  const clients: MqttClient[] = [];
  let db: TestDatabase;
  let dataDir: string;
  let introspection: Server;
  let certService: RunningService;
  let broker: RunningBroker;
  let device: { cert: string; key: string; serial: string };

  const internal = (method: string, path: string, body?: unknown) =>
    fetch(`${certService.url}/internal/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${internalToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    db = await createTestDatabase('broker-e2e');
    dataDir = await mkdtemp(join(tmpdir(), 'spincycle-broker-e2e-'));
    const oauth = await startIntrospection();
    introspection = oauth.server;
    const brokerHttpPort = await laterPort();
    certService = await startCertService(
      serviceTestEnv(db, {
        PORT: '0',
        ...requiredSecretsEnv(certServiceConfig),
        INTERNAL_API_TOKEN: internalToken,
        OAUTH2_INTROSPECTION_URL: oauth.url,
        BROKER_ADMIN_URL: `http://127.0.0.1:${brokerHttpPort}`,
        BROKER_ADMIN_TOKEN: adminToken,
      }),
    );
    expect(
      (
        await internal('PUT', '/devices/D1', {
          status: 'active',
          ownerId: 'alice',
          mqttPassword,
          enrolmentSecret,
        })
      ).status,
    ).toBeLessThan(300);

    // The device makes its own key pair; only the CSR leaves it.
    const keys = (await webcrypto.subtle.generateKey(ECDSA, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=D1',
      keys,
      signingAlgorithm: ECDSA,
    });
    const enrolled = await fetch(`${certService.url}/v1/pki/enrolments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: 'D1', csr: csr.toString('pem'), enrolmentSecret }),
    });
    expect(enrolled.status).toBe(201);
    const { certificate, serial } = (await enrolled.json()) as { certificate: string; serial: string };
    const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
    device = { cert: certificate, key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), serial };

    broker = await startBroker({
      LOG_LEVEL: 'silent',
      DATA_DIR: dataDir,
      HTTP_PORT: String(brokerHttpPort),
      MQTTS_PORT: '0',
      WSS_PORT: '0',
      DEVICE_CA_URL: `${certService.url}/v1/pki/ca`,
      DEVICE_CRL_URL: `${certService.url}/v1/pki/crl.pem`,
      WEBHOOK_URL: `${certService.url}/webhooks/vernemq`,
      ADMIN_TOKEN: adminToken,
      CRL_REFRESH_SECONDS: '86400',
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker?.close();
    await certService?.close();
    introspection?.close();
    await db?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const connectDevice = () => {
    const client = mqtt.connect(broker.endpoints.mqtts, {
      ca: broker.serverCertificate,
      cert: device.cert,
      key: device.key,
      clientId: 'D1',
      username: 'D1',
      password: mqttPassword,
      reconnectPeriod: 0,
    });
    clients.push(client);
    return outcome(client);
  };
  const connectApp = (user: string, token: string) => {
    const client = mqtt.connect(`${broker.endpoints.wss}/mqtt`, {
      ca: broker.serverCertificate,
      clientId: `${user}:phone`,
      username: user,
      password: token,
      reconnectPeriod: 0,
    });
    clients.push(client);
    return outcome(client);
  };

  it("delivers the device's state to its owner and refuses a stranger", async () => {
    const d1 = await connectDevice();
    const alice = await connectApp('alice', 'alice-token');
    expect((await alice.subscribeAsync('devices/D1/state', { qos: 1 })).map((g) => g.qos)).toEqual([1]);
    const received = new Promise<string>((resolve) =>
      alice.once('message', (_t, p) => resolve(p.toString())),
    );
    await d1.publishAsync('devices/D1/state', '{"program":"wool","temperature":30}', {
      qos: 1,
      retain: true,
    });
    expect(await received).toBe('{"program":"wool","temperature":30}');

    const bob = await connectApp('bob', 'bob-token');
    await expect(bob.subscribeAsync('devices/D1/state', { qos: 1 })).rejects.toMatchObject({
      packet: { granted: [128] },
    });
  });

  it("ends a technician's live session when the grant is withdrawn, and when it expires", async () => {
    const grant = (id: string, expiresAt: Date) =>
      internal('PUT', `/grants/${id}`, {
        technicianId: 'tech',
        deviceId: 'D1',
        scope: 'read',
        expiresAt: expiresAt.toISOString(),
      });
    expect((await grant('g1', new Date(Date.now() + 3600_000))).status).toBe(204);
    const tech = await connectApp('tech', 'tech-token');
    expect((await tech.subscribeAsync('devices/D1/state', { qos: 1 })).map((g) => g.qos)).toEqual([1]);
    const withdrawn = new Promise<void>((resolve) => tech.once('close', () => resolve()));
    expect((await internal('DELETE', '/grants/g1')).status).toBe(204);
    await withdrawn;
    const again = await connectApp('tech', 'tech-token');
    await expect(again.subscribeAsync('devices/D1/state', { qos: 1 })).rejects.toMatchObject({
      packet: { granted: [128] },
    });

    // No write announces an expiry: cert-service notices it and tells the broker.
    expect((await grant('g2', new Date(Date.now() + 1500))).status).toBe(204);
    const shortLived = await connectApp('tech', 'tech-token');
    expect((await shortLived.subscribeAsync('devices/D1/state', { qos: 1 })).map((g) => g.qos)).toEqual([1]);
    await new Promise<void>((resolve) => shortLived.once('close', () => resolve()));
  });

  it('ends the live session of a device whose certificate is revoked, and refuses it afterwards', async () => {
    const d1 = await connectDevice();
    const closed = new Promise<void>((resolve) => d1.once('close', () => resolve()));
    const res = await internal('POST', '/devices/D1/certificates/revoke', { reason: 'stolen' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { revoked: string[] }).revoked).toHaveLength(1);
    // The broker re-reads the CRL only daily here, so only cert-service's push can end the session.
    await closed;
    await expect(connectDevice()).rejects.toThrow();
  });
});
