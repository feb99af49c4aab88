import type { RunningService } from '@spincycle/common';
import { createTestDatabase, serviceTestEnv, type TestDatabase } from '@spincycle/common/testing';
import type { ServiceDatabase } from '@spincycle/common';
import { start as startBroker, type RunningBroker } from '@spincycle/broker';
import { start as startCertService } from '@spincycle/cert-service';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { makeCsr } from '../../../cert-service/test/support/device-keys.js';
import { startWith } from '../../src/app.js';
import { DevicesRepository } from '../../src/devices/devices.repository.js';
import type { IngestStores } from '../../src/events/event-ingest.js';
import { EventsRepository } from '../../src/events/events.repository.js';
import { ProvisioningSessionsRepository } from '../../src/first-connect/provisioning-sessions.repository.js';
import { FirmwareRepository } from '../../src/firmware/firmware.repository.js';
import { SecretHasher } from '../../src/secrets/secrets.js';
import type { Role } from '../../src/identity/caller.js';
import type { UserDirectory } from '../../src/users/user-directory.js';
import { AUDIENCE, IdentityProvider, ISSUER, type TokenOptions } from './identity-provider.js';

export const CERT_SERVICE_TOKEN = 'internal-token-for-tests-0123456789abcdef';
export const MQTT_SERVICE_SECRET = 'device-service-mqtt-secret-0123456789';
export const SECRET_PEPPER = 'device-pepper-for-tests-0123456789abcdef';

/** One machine of the factory's manifest. */
export interface ManifestEntry {
  id: string;
  serial: string;
  claimCode: string;
  mqttPassword: string;
  enrolmentSecret: string;
  labelSvg: string;
}

export interface DeviceCertificate {
  cert: string;
  key: string;
  serial: string;
}

/** The accounts user-service would hold, for technician grants by e-mail. */
export class AccountDirectory implements UserDirectory {
  readonly accounts = new Map<string, { id: string; roles: Role[] }>();

  async findByEmail(email: string) {
    return this.accounts.get(email.toLowerCase()) ?? null;
  }
}

export interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** Everyone a test acts as: scopes as the access proxy's rules grant them. */
export const HOMEOWNER_SCOPES = [
  'device.read',
  'device.control',
  'device.claim',
  'device.share',
  'events.read',
];
export const TECHNICIAN_SCOPES = ['device.read', 'device.control', 'events.read'];
export const ADMIN_SCOPES = ['admin.provision', 'admin.firmware'];

/**
 * device-service on a random port with its own fresh database, the real cert-service beside it
 * (its internal API is what device-service notifies), and a stand-in identity provider.
 */
export class DeviceServiceUnderTest {
  readonly directory = new AccountDirectory();
  database!: ServiceDatabase;

  private constructor(
    readonly identity: IdentityProvider,
    readonly databases: TestDatabase[],
  ) {}

  service!: RunningService;
  certService!: RunningService;
  broker: RunningBroker | undefined;
  private brokerDir: string | undefined;
  private readonly clients: MqttClient[] = [];
  /** What the factory gave each device this test provisioned, and the certificate it enrolled. */
  private readonly enrolmentSecrets = new Map<string, string>();
  private readonly certificates = new Map<string, DeviceCertificate>();

  /**
   * With `broker`, the real broker runs too, deciding through cert-service's webhooks, and
   * device-service sends commands through it.
   */
  static async start(
    label: string,
    extra: Record<string, string> = {},
    options: { broker?: boolean } = {},
  ): Promise<DeviceServiceUnderTest> {
    const identity = await IdentityProvider.start();
    const [own, cert] = await Promise.all([createTestDatabase(label), createTestDatabase(`${label}-cert`)]);
    const sut = new DeviceServiceUnderTest(identity, [own, cert]);
    sut.certService = await startCertService(
      serviceTestEnv(cert, {
        PORT: '0',
        INTERNAL_API_TOKEN: CERT_SERVICE_TOKEN,
        SECRET_PEPPER: 'cert-pepper-for-tests-0123456789abcdef',
      }),
    );
    if (options.broker) {
      sut.brokerDir = await mkdtemp(join(tmpdir(), 'device-service-broker-'));
      sut.broker = await startBroker({
        LOG_LEVEL: 'silent',
        DATA_DIR: sut.brokerDir,
        HTTP_PORT: '0',
        MQTTS_PORT: '0',
        WSS_PORT: '0',
        WS_DEV_PORT: '0',
        DEVICE_CA_URL: `${sut.certService.url}/v1/pki/ca`,
        DEVICE_CRL_URL: `${sut.certService.url}/v1/pki/crl.pem`,
        WEBHOOK_URL: `${sut.certService.url}/webhooks/vernemq`,
      });
    }
    const mqttEnv: Record<string, string> = sut.broker?.endpoints.ws
      ? { MQTT_URL: sut.broker.endpoints.ws, MQTT_SERVICE_SECRET }
      : {};
    sut.env = serviceTestEnv(own, {
      PORT: '0',
      SECRET_PEPPER,
      IDENTITY_JWKS_URL: identity.jwksUrl,
      IDENTITY_ISSUER: ISSUER,
      IDENTITY_AUDIENCE: AUDIENCE,
      CERT_SERVICE_URL: sut.certService.url,
      CERT_SERVICE_TOKEN,
      ...mqttEnv,
      ...extra,
    });
    await sut.startService();
    return sut;
  }

  private certServiceRunning = true;

  /** Takes cert-service away, to see that device-service fails closed without it. */
  async stopCertService(): Promise<void> {
    this.certServiceRunning = false;
    await this.certService.close();
  }

  private env: NodeJS.ProcessEnv = {};

  private async startService(): Promise<void> {
    this.service = await startWith({
      userDirectory: this.directory,
      onDatabase: (database) => {
        this.database = database;
      },
    })(this.env);
  }

  /** Stops device-service alone; `startService` brings it back on the same database. */
  async restartService(whileStopped: () => Promise<void>): Promise<void> {
    await this.service.close();
    await whileStopped();
    await this.startService();
  }

  /** A device's own MQTT connection: client id and username are its id, the password its MQTT password. */
  async connectDevice(deviceId: string, mqttPassword: string): Promise<MqttClient> {
    const url = this.broker?.endpoints.mqtts;
    if (!url || !this.brokerDir) throw new Error('started without a broker');
    const certificate = await this.certificateOf(deviceId);
    const client = mqtt.connect(url, {
      clientId: deviceId,
      username: deviceId,
      password: mqttPassword,
      cert: certificate.cert,
      key: certificate.key,
      ca: await readFile(join(this.brokerDir, 'broker', 'tls', 'server.crt'), 'utf8'),
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    this.clients.push(client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    return client;
  }

  /** The device's certificate: enrolled once with its one-time secret, then reused. */
  private async certificateOf(deviceId: string): Promise<DeviceCertificate> {
    const known = this.certificates.get(deviceId);
    if (known) return known;
    const secret = this.enrolmentSecrets.get(deviceId);
    if (!secret) throw new Error(`device ${deviceId} was not provisioned by this test`);
    return this.enrolCertificate(deviceId, secret);
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync(true)));
    await this.service?.close();
    await this.broker?.close();
    if (this.brokerDir) await rm(this.brokerDir, { recursive: true, force: true });
    if (this.certServiceRunning) await this.certService?.close();
    await this.identity.stop();
    await Promise.all(this.databases.map((d) => d.drop()));
  }

  /** A request as the access proxy forwards it: with an id_token for `subject`, if one is given. */
  async request(
    method: string,
    path: string,
    options: { as?: string; token?: TokenOptions; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.as !== undefined) {
      headers.authorization = `Bearer ${await this.identity.token(options.as, { scopes: HOMEOWNER_SCOPES, ...options.token })}`;
    }
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.service.url}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: kept as text.
    }
    return { status: response.status, headers: response.headers, body };
  }

  /** What the event ingester stores a batch through, on this service's database. */
  ingestStores(): IngestStores {
    const db = this.database.dataSource;
    return {
      events: new EventsRepository(db),
      devices: new DevicesRepository(db),
      provisioning: new ProvisioningSessionsRepository(db),
      firmware: new FirmwareRepository(db),
      hasher: new SecretHasher(SECRET_PEPPER),
    };
  }

  /** cert-service's view of a device, as the broker's decisions will read it. */
  async certServiceDevice(deviceId: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${this.certService.url}/internal/v1/devices/${deviceId}`, {
      headers: { authorization: `Bearer ${CERT_SERVICE_TOKEN}` },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  /** The service's DATA_DIR, where it keeps generated keys and firmware images. */
  get dataDir(): string {
    return this.env.DATA_DIR ?? '';
  }

  /** What the device itself does on first start: a key pair, a CSR, enrolment with its secret. */
  async enrolCertificate(deviceId: string, enrolmentSecret: string): Promise<DeviceCertificate> {
    const keys = await makeCsr();
    const response = await fetch(`${this.certService.url}/v1/pki/enrolments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId, csr: keys.csrPem, enrolmentSecret }),
    });
    const body = (await response.json()) as { certificate?: string; serial?: string };
    if (response.status !== 201 || !body.certificate || !body.serial)
      throw new Error(`enrolment failed: ${response.status} ${JSON.stringify(body)}`);
    const certificate = { cert: body.certificate, key: keys.privateKeyPem, serial: body.serial };
    this.certificates.set(deviceId, certificate);
    return certificate;
  }

  /** Provisions devices as the factory does; answers the manifest. */
  async provision(count: number, model = 'SC-W800'): Promise<ManifestEntry[]> {
    const devices = Array.from({ length: count }, () => ({
      serial: `SN-${Math.random().toString(36).slice(2, 12).toUpperCase()}`,
      model,
      hardwareRevision: 'r2',
    }));
    const answer = await this.request('POST', '/admin/devices', {
      as: 'admin-1',
      token: { scopes: ADMIN_SCOPES, roles: ['admin'] },
      body: { devices },
    });
    if (answer.status !== 201)
      throw new Error(`provisioning failed: ${answer.status} ${JSON.stringify(answer.body)}`);
    const manifest = (answer.body as { devices: ManifestEntry[] }).devices;
    for (const device of manifest) this.enrolmentSecrets.set(device.id, device.enrolmentSecret);
    return manifest;
  }

  /** Provisions one device and has `owner` claim it. */
  async claimedDevice(owner: string): Promise<{ id: string; serial: string; mqttPassword: string }> {
    const [device] = await this.provision(1);
    if (!device) throw new Error('nothing provisioned');
    const answer = await this.request('POST', '/claims', {
      as: owner,
      body: { serial: device.serial, claimCode: device.claimCode },
    });
    if (answer.status !== 201)
      throw new Error(`claim failed: ${answer.status} ${JSON.stringify(answer.body)}`);
    return device;
  }
}
