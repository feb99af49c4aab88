import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@spincycle/common/testing';
import { loadAclContract } from './support/acl-contract.js';
import { CertServiceUnderTest } from './support/cert-service.js';
import { loadContractFacts, mqttPasswordOf, type ContractCredentials } from './support/contract-facts.js';
import { NOT_ALLOWED, OK, requestFor } from './support/vernemq.js';

const contract = loadAclContract();
let sut: CertServiceUnderTest;
let credentials: ContractCredentials;

beforeAll(async () => {
  sut = await CertServiceUnderTest.start('decision-cache');
  credentials = await loadContractFacts(sut, contract);
});
afterAll(() => sut.stop());

const cacheEntries = async (deviceId: string) =>
  (
    (await sut.expectOk(sut.internal('GET', `/decision-cache/devices/${deviceId}`))).body as {
      deviceEntries: number;
    }
  ).deviceEntries;

const publish = (actor: string, topic: string) =>
  sut.hook(
    'auth_on_publish',
    requestFor('auth_on_publish', { username: actor, client_id: actor, topic, qos: 1, retain: false }),
  );
const subscribe = (actor: string, topic: string) =>
  sut.hook(
    'auth_on_subscribe',
    requestFor('auth_on_subscribe', { username: actor, client_id: actor, topics: [{ topic, qos: 1 }] }),
  );

describe(`decision cache invalidation (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  it("refuses a device's next connect once its certificate is revoked, and forgets its cached decisions", async () => {
    const register = requestFor('auth_on_register', {
      username: 'D1',
      client_id: 'D1',
      password: mqttPasswordOf('D1'),
      client_cert: credentials.certificateOf('D1'),
    });
    expect(await sut.hook('auth_on_register', register)).toEqual(OK);
    expect(await publish('D1', 'devices/D1/events')).toEqual(OK);
    expect(await publish('A', 'devices/D1/commands')).toEqual(OK);
    expect(await cacheEntries('D1')).toBeGreaterThanOrEqual(2);

    const revoked = await sut.expectOk(
      sut.internal('POST', '/devices/D1/certificates/revoke', { reason: 'stolen' }),
    );
    expect((revoked.body as { revoked: string[] }).revoked).toHaveLength(1);
    expect(await cacheEntries('D1')).toBe(0);
    expect(await sut.hook('auth_on_register', register)).toEqual(NOT_ALLOWED);
    // The device record is still active: leaving the certificate out must not get it in either.
    const { client_cert: _revoked, ...withoutCertificate } = register;
    expect(await sut.hook('auth_on_register', withoutCertificate)).toEqual(NOT_ALLOWED);
    expect(
      await sut.hook(
        'auth_on_register_m5',
        requestFor('auth_on_register_m5', { ...register, clean_start: true }),
      ),
    ).toEqual(NOT_ALLOWED);
  });

  it('refuses a warm-cached publish as soon as the device is marked revoked', async () => {
    expect(await publish('D2', 'devices/D2/state')).toEqual({ result: 'ok', modifiers: { retain: true } });
    expect(await cacheEntries('D2')).toBeGreaterThan(0);
    await sut.expectOk(sut.internal('PUT', '/devices/D2', { status: 'revoked', ownerId: 'B' }));
    expect(await cacheEntries('D2')).toBe(0);
    expect(await publish('D2', 'devices/D2/state')).toEqual(NOT_ALLOWED);
    expect(
      await sut.hook(
        'auth_on_register',
        requestFor('auth_on_register', { username: 'D2', client_id: 'D2', password: mqttPasswordOf('D2') }),
      ),
    ).toEqual(NOT_ALLOWED);
    const certificates = (await sut.internal('GET', '/devices/D2/certificates')).body as { status: string }[];
    expect(certificates.map((c) => c.status)).toEqual(['revoked']);
  });

  it("withdraws a technician's command right the moment the grant is revoked", async () => {
    expect(await publish('T2', 'devices/D1/commands')).toEqual(OK);
    await sut.expectOk(
      sut.internal('PUT', '/grants/grant-1', {
        technicianId: 'T2',
        deviceId: 'D1',
        scope: 'control',
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        revoked: true,
      }),
      204,
    );
    expect(await publish('T2', 'devices/D1/commands')).toEqual(NOT_ALLOWED);
  });

  it('gives a new grant effect at once, even after a cached refusal', async () => {
    expect(await subscribe('B', 'devices/D1/state')).toEqual({
      result: 'ok',
      topics: [{ topic: 'devices/D1/state', qos: 128 }],
    });
    await sut.expectOk(
      sut.internal('PUT', '/grants/grant-new', {
        technicianId: 'B',
        deviceId: 'D1',
        scope: 'read',
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      }),
      204,
    );
    expect(await subscribe('B', 'devices/D1/state')).toEqual({
      result: 'ok',
      topics: [{ topic: 'devices/D1/state', qos: 1 }],
    });
    await sut.expectOk(sut.internal('DELETE', '/grants/grant-new'), 204);
    expect(await subscribe('B', 'devices/D1/state')).toEqual({
      result: 'ok',
      topics: [{ topic: 'devices/D1/state', qos: 128 }],
    });
  });

  it("ends the former owner's access when the device is unclaimed", async () => {
    expect(await subscribe('A', 'devices/D1/events')).toEqual({
      result: 'ok',
      topics: [{ topic: 'devices/D1/events', qos: 1 }],
    });
    await sut.expectOk(sut.internal('PUT', '/devices/D1', { status: 'active', ownerId: null }));
    expect(await subscribe('A', 'devices/D1/events')).toEqual({
      result: 'ok',
      topics: [{ topic: 'devices/D1/events', qos: 128 }],
    });
    expect(await publish('A', 'devices/D1/commands')).toEqual(NOT_ALLOWED);
  });

  it('stops a deleted service at once', async () => {
    expect(await subscribe('S', 'devices/+/events')).toEqual({
      result: 'ok',
      topics: [{ topic: 'devices/+/events', qos: 1 }],
    });
    await sut.expectOk(sut.internal('DELETE', '/services/S'), 204);
    expect(await subscribe('S', 'devices/+/events')).toEqual({
      result: 'ok',
      topics: [{ topic: 'devices/+/events', qos: 128 }],
    });
  });

  it('ends what a service may no longer do when its permissions narrow, and refuses bad permission lists', async () => {
    const secret = 'narrowed-service-secret-0123456789';
    const put = (body: unknown) => sut.internal('PUT', '/services/N', body);
    await sut.expectOk(put({ secret, permissions: ['ingest', 'ota'] }), 204);
    expect(await subscribe('N', 'devices/+/events')).toEqual({
      result: 'ok',
      topics: [{ topic: 'devices/+/events', qos: 1 }],
    });
    expect(await publish('N', 'devices/D1/commands')).toEqual({ result: { error: 'not_allowed' } });
    await sut.expectOk(put({ secret, permissions: ['ota'] }), 204);
    expect(await subscribe('N', 'devices/+/events')).toEqual({
      result: 'ok',
      topics: [{ topic: 'devices/+/events', qos: 128 }],
    });
    expect(await publish('N', 'devices/D1/ota')).toEqual({ result: 'ok' });
    for (const permissions of [undefined, [], ['ota', 'admin']]) {
      const answer = await put({ secret, permissions });
      expect(answer.status).toBe(400);
      expect(answer.text).toContain('permissions');
    }
  });

  it('introspects an access token once and reuses the answer until the token expires', async () => {
    const before = sut.introspection.calls;
    const register = requestFor('auth_on_register', {
      username: 'T',
      client_id: 'T:phone',
      password: credentials.passwordOf('T'),
    });
    for (let i = 0; i < 3; i++) expect(await sut.hook('auth_on_register', register)).toEqual(OK);
    expect(sut.introspection.calls - before).toBe(1);
  });
});

describe.runIf(process.env.DATABASE_URL)('decision cache across replicas (PostgreSQL)', () => {
  it('drops a decision another replica cached as soon as this one changes the fact', async () => {
    const other = await CertServiceUnderTest.start('decision-cache-replica', {}, sut.database);
    try {
      const publishAt = (replica: CertServiceUnderTest) =>
        replica.hook(
          'auth_on_publish',
          requestFor('auth_on_publish', {
            username: 'R',
            client_id: 'R',
            topic: 'devices/R1/commands',
            qos: 1,
            retain: false,
          }),
        );
      const entriesAt = async (replica: CertServiceUnderTest) =>
        ((await replica.internal('GET', '/decision-cache/devices/R1')).body as { deviceEntries: number })
          .deviceEntries;
      await sut.expectOk(
        sut.internal('PUT', '/devices/R1', {
          status: 'active',
          ownerId: 'R',
          mqttPassword: mqttPasswordOf('R1'),
        }),
      );
      // Each replica hears of the other's writes through PostgreSQL NOTIFY, a moment after the
      // write returned. A decision read while the notice of that write was on its way is answered
      // but not kept (the cache's generation moved on), so ask until the other replica keeps one.
      await eventually(async () => {
        expect(await publishAt(other)).toEqual(OK);
        return (await entriesAt(other)) > 0;
      }, 'the other replica keeps a decision');

      await sut.expectOk(sut.internal('PUT', '/devices/R1', { status: 'active', ownerId: null }));
      await eventually(async () => (await entriesAt(other)) === 0, 'the other replica drops it');
      expect(await publishAt(other)).toEqual(NOT_ALLOWED);
    } finally {
      await other.stop({ keepDatabase: true });
    }
  });
});
