import type { RunningService } from '@spincycle/common';
import { createTestDatabase, serviceTestEnv, type TestDatabase } from '@spincycle/common/testing';
import { start as startCertService } from '@spincycle/cert-service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertServiceCallFailed, HttpCertServiceClient } from '../src/cert-service/cert-service.client.js';
import { CERT_SERVICE_TOKEN } from './support/device-service.js';

let database: TestDatabase;
let certService: RunningService;
let client: HttpCertServiceClient;

beforeAll(async () => {
  database = await createTestDatabase('cert-client');
  certService = await startCertService(
    serviceTestEnv(database, {
      PORT: '0',
      INTERNAL_API_TOKEN: CERT_SERVICE_TOKEN,
      SECRET_PEPPER: 'cert-pepper-for-tests-0123456789abcdef',
    }),
  );
  client = new HttpCertServiceClient({
    baseUrl: certService.url,
    token: CERT_SERVICE_TOKEN,
    timeoutMs: 5000,
  });
});
afterAll(async () => {
  await certService.close();
  await database.drop();
});

async function deviceFacts(id: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${certService.url}/internal/v1/devices/${id}`, {
    headers: { authorization: `Bearer ${CERT_SERVICE_TOKEN}` },
  });
  return { status: response.status, body: await response.json() };
}

describe(`HttpCertServiceClient against the real cert-service (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  it('registers a device with its machine secrets, then changes its owner', async () => {
    await client.putDevice('dev-1', {
      status: 'active',
      ownerId: null,
      mqttPassword: 'mqtt-password-0123456789',
      enrolmentSecret: 'enrolment-secret-0123456789',
    });
    expect(await deviceFacts('dev-1')).toMatchObject({
      status: 200,
      body: { status: 'active', ownerId: null, enrolmentPending: true },
    });
    expect(await client.deviceConnection('dev-1')).toEqual({ online: false, lastSeenAt: null });
    expect(await client.deviceConnection('no-such-device')).toBeNull();
    await client.putDevice('dev-1', { status: 'active', ownerId: 'owner-1' });
    expect(await deviceFacts('dev-1')).toMatchObject({
      body: { ownerId: 'owner-1', enrolmentPending: true },
    });
  });

  it('writes and deletes grants in the shape cert-service accepts', async () => {
    const grant = {
      technicianId: 'tech-1',
      deviceId: 'dev-1',
      scope: 'control' as const,
      expiresAt: new Date(Date.now() + 3_600_000),
    };
    await expect(client.putGrant('grant-1', { ...grant, revoked: false })).resolves.toBeUndefined();
    await expect(client.putGrant('grant-1', { ...grant, revoked: true })).resolves.toBeUndefined();
    await expect(client.deleteGrant('grant-1')).resolves.toBeUndefined();
    // Deleting what is already gone reaches the wanted state.
    await expect(client.deleteGrant('grant-1')).resolves.toBeUndefined();
  });

  it('revokes the certificates of a device and answers their serials', async () => {
    await expect(client.revokeCertificates('dev-1', 'unclaimed')).resolves.toEqual([]);
  });

  it('deletes a device', async () => {
    await client.deleteDevice('dev-1');
    expect((await deviceFacts('dev-1')).status).toBe(404);
    await expect(client.deleteDevice('dev-1')).resolves.toBeUndefined();
  });

  it('fails with CertServiceCallFailed on a wrong service token, without the token in the error', async () => {
    const wrong = new HttpCertServiceClient({
      baseUrl: certService.url,
      token: 'not-the-token-0123456789abcdef-xyz',
      timeoutMs: 5000,
    });
    const failure = await wrong
      .putDevice('dev-2', { status: 'active', ownerId: null, mqttPassword: 'mqtt-password-0123456789' })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(CertServiceCallFailed);
    expect((failure as CertServiceCallFailed).why).toBe('HTTP 401');
    expect(JSON.stringify(failure)).not.toContain('not-the-token');
  });

  it('fails with CertServiceCallFailed when cert-service cannot be reached', async () => {
    const unreachable = new HttpCertServiceClient({
      baseUrl: 'http://127.0.0.1:9',
      token: CERT_SERVICE_TOKEN,
      timeoutMs: 2000,
    });
    await expect(unreachable.deleteGrant('grant-x')).rejects.toBeInstanceOf(CertServiceCallFailed);
  });
});
