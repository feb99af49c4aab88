import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, createMetrics, parseConfig, type ServiceDatabase } from '@spincycle/common';
import { openTestDatabase } from '@spincycle/common/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationCache } from '../src/acl/authorization-cache.js';
import { BrokerSessions } from '../src/broker/broker-sessions.js';
import { config } from '../src/config.js';
import { migrations } from '../src/database/migrations.js';
import { FactsRepository } from '../src/facts/facts.repository.js';
import { FactsService } from '../src/facts/facts.service.js';
import { SecretHasher } from '../src/facts/secret-hasher.js';
import { TokenIntrospector } from '../src/oauth/token-introspector.js';
import { BackendRevocations } from '../src/pki/backend-revocations.js';
import { CertificatesRepository } from '../src/pki/certificates.repository.js';
import { CertificatesService, EnrolmentRefused } from '../src/pki/certificates.service.js';
import { LocalCa } from '../src/pki/local-ca.js';
import { x509 } from '../src/pki/x509.js';
import { RenewalNotices } from '../src/renewal/renewal-notices.service.js';
import { BrokerAuthorizer } from '../src/webhooks/broker-authorizer.js';
import { WebhooksService } from '../src/webhooks/webhooks.service.js';
import { makeCsr, pemToDerBase64 } from './support/device-keys.js';
import { NOT_ALLOWED, requestFor } from './support/vernemq.js';

const lines: { msg: string; reason?: string; fields?: string[] }[] = [];
const logger = createLogger({
  service: 'cert-service',
  level: 'info',
  destination: new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
      done();
    },
  }),
});

let closeDatabase: () => Promise<void>;
let database: ServiceDatabase;
let caDir: string;
let webhooks: WebhooksService;
let certificates: CertificatesService;
let certificatesRepository: CertificatesRepository;
let facts: FactsRepository;
let hasher: SecretHasher;
let d1Certificate: string;

beforeAll(async () => {
  caDir = await mkdtemp(join(tmpdir(), 'cert-service-ca-'));
  ({ database, close: closeDatabase } = await openTestDatabase('fail-closed', {
    service: 'cert-service',
    migrations,
    logger,
  }));
  const settings = parseConfig(config, {
    INTERNAL_API_TOKEN: 'internal-token-for-tests-0123456789abcdef',
    SECRET_PEPPER: 'pepper-for-tests-0123456789abcdef-0123',
  });
  facts = new FactsRepository(database.dataSource);
  certificatesRepository = new CertificatesRepository(database.dataSource);
  hasher = new SecretHasher(settings.SECRET_PEPPER);
  const cache = new AuthorizationCache(settings, database, logger);
  const ca = await LocalCa.open({
    dir: caDir,
    encryptionKey: undefined,
    revokedSerials: () => certificatesRepository.revokedSerials(),
  });
  // No broker admin URL: the broker is not told, which these tests do not look at.
  const brokers = new BrokerSessions(settings, logger, database.dataSource);
  certificates = new CertificatesService(
    ca,
    certificatesRepository,
    facts,
    hasher,
    cache,
    logger,
    brokers,
    new BackendRevocations(ca, certificatesRepository, settings, logger, {
      metrics: createMetrics('cert-service'),
    }),
    365,
  );
  const authorizer = new BrokerAuthorizer(
    facts,
    cache,
    hasher,
    new TokenIntrospector(settings, logger),
    certificates,
    logger,
  );
  // No MQTT_URL: renewal notices are off, which these tests do not look at.
  const renewals = new RenewalNotices(
    settings,
    certificatesRepository,
    new FactsService(facts, hasher, cache, certificates, brokers),
    logger,
  );
  webhooks = new WebhooksService(authorizer, renewals, logger);
  await facts.upsertDevice({
    id: 'D1',
    status: 'active',
    ownerId: 'A',
    mqttPasswordHash: hasher.hash('mqtt-password', 'pw-of-D1-0123456789'),
    enrolmentSecretHash: null,
  });
  d1Certificate = pemToDerBase64((await certificates.issueLegacy('D1')).certificatePem);
});

afterAll(async () => {
  await closeDatabase();
  await rm(caDir, { recursive: true, force: true });
});

// Before the tests below, which close the database.
describe('an enrolment that loses the race for its secret', () => {
  it('is refused, and the certificate signed for it is recorded revoked and put in the CRL', async () => {
    const secret = 'enrolment-secret-of-D2-0123456789';
    await facts.upsertDevice({
      id: 'D2',
      status: 'active',
      ownerId: null,
      mqttPasswordHash: hasher.hash('mqtt-password', 'pw-of-D2-0123456789'),
      enrolmentSecretHash: hasher.hash('enrolment-secret', secret),
    });
    const proof = { kind: 'enrolment-secret', secret } as const;
    const [late, rival] = await Promise.all([makeCsr(), makeCsr()]);
    // The rival spends the secret after the late enrolment's certificate is signed, before it is recorded.
    const spend = certificatesRepository.recordSpendingSecret.bind(certificatesRepository);
    let rivalEnrolment: ReturnType<CertificatesService['enrol']> | undefined;
    certificatesRepository.recordSpendingSecret = async (record, hash) => {
      certificatesRepository.recordSpendingSecret = spend;
      rivalEnrolment = certificates.enrol('D2', rival.csrPem, proof);
      await rivalEnrolment;
      return spend(record, hash);
    };
    await expect(certificates.enrol('D2', late.csrPem, proof)).rejects.toThrow(EnrolmentRefused);
    const won = await rivalEnrolment!;
    const records = await certificatesRepository.listForDevice('D2');
    const lost = records.find((r) => r.serial !== won.serial);
    expect(records).toHaveLength(2);
    expect(records.find((r) => r.serial === won.serial)).toMatchObject({ status: 'active' });
    expect(lost).toMatchObject({ status: 'revoked', revocationReason: 'enrolment_lost' });
    const crl = new x509.X509Crl((await certificates.crl()).pem);
    expect(crl.entries.map((e) => e.serialNumber.toLowerCase())).toContain(lost?.serial);
  });
});

describe(`webhooks fail closed (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  it('logs which fields of a malformed body were wrong, and refuses', async () => {
    const answer = await webhooks.handle('auth_on_publish', {
      ...requestFor('auth_on_publish', { username: 'D1', client_id: 'D1' }),
      qos: 'high',
    });
    expect(answer.body).toEqual(NOT_ALLOWED);
    expect(lines.at(-1)).toMatchObject({
      msg: 'webhook refused: body does not match the hook',
      fields: [expect.stringMatching(/^qos: /)],
    });
  });

  it('refuses, and says so in the log, when the database is gone', async () => {
    const register = requestFor('auth_on_register', {
      username: 'D1',
      client_id: 'D1',
      password: 'pw-of-D1-0123456789',
      client_cert: d1Certificate,
    });
    expect((await webhooks.handle('auth_on_register', register)).body).toEqual({ result: 'ok' });
    await database.close();
    expect((await webhooks.handle('auth_on_register', register)).body).toEqual(NOT_ALLOWED);
    expect(lines.at(-1)).toMatchObject({ msg: 'webhook refused: decision failed' });
    const publish = requestFor('auth_on_publish', {
      username: 'D1',
      client_id: 'D1',
      topic: 'devices/D1/state',
    });
    expect((await webhooks.handle('auth_on_publish', publish)).body).toEqual(NOT_ALLOWED);
    const subscribe = requestFor('auth_on_subscribe', {
      username: 'D1',
      client_id: 'D1',
      topics: [{ topic: 'devices/D1/commands', qos: 1 }],
    });
    expect((await webhooks.handle('auth_on_subscribe', subscribe)).body).toEqual(NOT_ALLOWED);
    expect((await webhooks.handle('on_client_offline', { client_id: 'D1', mountpoint: '' })).body).toEqual(
      {},
    );
  });
});
