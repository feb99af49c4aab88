import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, serviceTestEnv, type TestDatabase } from '@spincycle/common/testing';
import type { RunningService } from '@spincycle/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startWith } from '../src/app.js';
import type { BackendRevocations } from '../src/pki/backend-revocations.js';
import { VaultPki } from '../src/pki/vault-pki.js';
import { x509 } from '../src/pki/x509.js';
import { CertServiceUnderTest, INTERNAL_TOKEN } from './support/cert-service.js';
import { makeCsr } from './support/device-keys.js';
import { VaultServer } from './support/vault-server.js';

const vault = new VaultServer();
let endpoint: string;
const tokenAuth = { method: 'token', token: 'root-token-for-tests' } as const;

beforeAll(async () => {
  endpoint = await vault.start();
});
afterAll(() => vault.stop());
afterEach(() => {
  vault.role = { useCsrCommonName: false, serverFlag: false };
  vault.revokeFailure = undefined;
});

describe('Vault PKI backend against a stand-in built from the Vault API reference', () => {
  it('signs a CSR at pki/sign/<role> with the device id as common name and a 365-day ttl', async () => {
    const pki = await VaultPki.connect({ endpoint, mount: 'pki', role: 'device', auth: tokenAuth });
    const keys = await makeCsr('CN=washer-9');
    const signed = await pki.signCsr({ csrPem: keys.csrPem, deviceId: 'washer-9', validityDays: 365 });
    const call = vault.calls.at(-1);
    expect(call).toMatchObject({
      method: 'POST',
      path: '/v1/pki/sign/device',
      token: 'root-token-for-tests',
    });
    expect(call?.body).toMatchObject({
      csr: keys.csrPem,
      common_name: 'washer-9',
      ttl: '8760h',
      format: 'pem',
    });
    expect(new x509.X509Certificate(signed.certificatePem).subject).toBe('CN=washer-9');
    expect(signed.serial).toMatch(/^[0-9a-f]{40}$/);
    expect(signed.chainPem).toEqual([vault.caPem()]);
    expect(signed.notAfter.getTime() - signed.notBefore.getTime()).toBe(365 * 86_400_000);
  });

  it('revokes, and refuses, what a misconfigured role issues for another name or for server use', async () => {
    const pki = await VaultPki.connect({ endpoint, mount: 'pki', role: 'device', auth: tokenAuth });
    vault.role = { useCsrCommonName: true, serverFlag: false };
    const keys = await makeCsr('CN=someone-else');
    await expect(
      pki.signCsr({ csrPem: keys.csrPem, deviceId: 'washer-9', validityDays: 365 }),
    ).rejects.toThrow('use_csr_common_name');
    const signCall = vault.calls.findLast((c) => c.path === '/v1/pki/sign/device');
    expect(vault.calls.at(-1)).toMatchObject({ path: '/v1/pki/revoke' });
    expect(signCall).toBeDefined();
    vault.role = { useCsrCommonName: false, serverFlag: true };
    await expect(
      pki.signCsr({ csrPem: keys.csrPem, deviceId: 'washer-9', validityDays: 365 }),
    ).rejects.toThrow('server_flag');
    expect(vault.revoked.size).toBe(2);
  });

  it('issues key and certificate at pki/issue/<role>, revokes by colon serial, and reads chain and CRL', async () => {
    const pki = await VaultPki.connect({ endpoint, mount: 'pki', role: 'device', auth: tokenAuth });
    const issued = await pki.issueWithKey({ deviceId: 'old-washer', validityDays: 365 });
    expect(issued.privateKeyPem).toContain('BEGIN PRIVATE KEY');
    expect(vault.calls.at(-1)?.body).toMatchObject({
      common_name: 'old-washer',
      private_key_format: 'pkcs8',
    });
    await pki.revoke(issued.serial);
    expect(vault.calls.at(-1)).toMatchObject({
      path: '/v1/pki/revoke',
      body: { serial_number: issued.serial.match(/../g)?.join(':') },
    });
    expect(await pki.caChainPem()).toEqual([vault.caPem()]);
    const crl = new x509.X509Crl(await pki.crlPem());
    expect(crl.entries.map((e) => e.serialNumber.toLowerCase())).toContain(issued.serial);
  });

  it('logs in with Kubernetes auth at auth/<mount>/login and uses the token it gets', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vault-jwt-'));
    const jwtPath = join(dir, 'token');
    await writeFile(jwtPath, 'service-account-jwt\n');
    const pki = await VaultPki.connect({
      endpoint,
      mount: 'pki',
      role: 'device',
      auth: { method: 'kubernetes', role: 'cert-service', mount: 'kubernetes', jwtPath },
    });
    expect(vault.calls.at(-1)).toMatchObject({
      path: '/v1/auth/kubernetes/login',
      body: { role: 'cert-service', jwt: 'service-account-jwt' },
    });
    await pki.caChainPem();
    const firstToken = vault.calls.at(-1)?.token;
    expect(firstToken).toMatch(/^k8s-/);
    // The token's TTL ran out: Vault answers 403, and the backend logs in again once.
    vault.tokens.delete(firstToken ?? '');
    expect(await pki.caChainPem()).toEqual([vault.caPem()]);
    const lastCalls = vault.calls.slice(-3).map((c) => c.path);
    expect(lastCalls).toEqual([
      '/v1/pki/cert/ca_chain',
      '/v1/auth/kubernetes/login',
      '/v1/pki/cert/ca_chain',
    ]);
    expect(vault.calls.at(-1)?.token).not.toBe(firstToken);
    await rm(dir, { recursive: true, force: true });
  });

  it('surfaces Vault errors instead of answering for it', async () => {
    const pki = await VaultPki.connect({
      endpoint,
      mount: 'pki',
      role: 'device',
      auth: { method: 'token', token: 'expired' },
    });
    await expect(pki.caChainPem()).rejects.toThrow('permission denied');
  });
});

describe(`cert-service with PKI_BACKEND=vault (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  let sut: CertServiceUnderTest;
  beforeAll(async () => {
    sut = await CertServiceUnderTest.start('pki-vault', {
      PKI_BACKEND: 'vault',
      VAULT_ADDR: endpoint,
      VAULT_TOKEN: 'root-token-for-tests',
    });
  });
  afterAll(() => sut.stop());

  it('enrols through Vault, records the serial, and revokes it in Vault too', async () => {
    await sut.expectOk(
      sut.internal('PUT', '/devices/washer-v', {
        status: 'active',
        ownerId: null,
        mqttPassword: 'washer-v-mqtt-password',
        enrolmentSecret: 'washer-v-enrolment-secret',
      }),
    );
    const keys = await makeCsr();
    const enrolled = await sut.expectOk(
      sut.request('POST', '/v1/pki/enrolments', {
        body: { deviceId: 'washer-v', csr: keys.csrPem, enrolmentSecret: 'washer-v-enrolment-secret' },
      }),
      201,
    );
    const { serial, chain } = enrolled.body as { serial: string; chain: string[] };
    expect(chain).toEqual([vault.caPem()]);
    await sut.expectOk(sut.internal('POST', `/certificates/${serial}/revoke`, { reason: 'stolen' }));
    expect(vault.revoked.has(serial)).toBe(true);
    const crl = await sut.request('GET', '/v1/pki/crl.pem');
    expect(new x509.X509Crl(crl.text).entries.map((e) => e.serialNumber.toLowerCase())).toContain(serial);
    expect((await sut.request('GET', '/v1/pki/ca')).text).toBe(vault.caPem());
  });
});

describe('revocations Vault did not take', () => {
  let database: TestDatabase;
  let service: RunningService;
  let revocations: BackendRevocations | undefined;
  const internal = (method: string, path: string, body?: unknown) =>
    fetch(`${service.url}/internal/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${INTERNAL_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const pendingGauge = async () => {
    const text = await (await fetch(`${service.url}/metrics`)).text();
    return Number(/^cert_pki_backend_revocations_pending\{[^}]*\} (\d+)$/m.exec(text)?.[1]);
  };

  beforeAll(async () => {
    database = await createTestDatabase('pki-vault-retry');
    service = await startWith({ onBackendRevocations: (r) => (revocations = r) })(
      serviceTestEnv(database, {
        PORT: '0',
        INTERNAL_API_TOKEN: INTERNAL_TOKEN,
        SECRET_PEPPER: 'pepper-for-tests-0123456789abcdef-0123',
        PKI_BACKEND: 'vault',
        VAULT_ADDR: endpoint,
        VAULT_TOKEN: 'root-token-for-tests',
      }),
    );
  });
  afterAll(async () => {
    await service.close();
    await database.drop();
  });

  it('keeps a revocation Vault refused pending, counts it, and sends it again once Vault is back', async () => {
    const put = await internal('PUT', '/devices/old-washer-v', {
      status: 'active',
      ownerId: null,
      mqttPassword: 'old-washer-v-mqtt-password',
    });
    expect(put.status).toBe(200);
    const issued = await internal('POST', '/devices/old-washer-v/legacy-credentials');
    const { serial } = (await issued.json()) as { serial: string };
    vault.revokeFailure = { status: 503, errors: ['Vault is sealed'] };
    const revoked = await internal('POST', `/certificates/${serial}/revoke`, { reason: 'stolen' });
    // cert-service's own record is revoked regardless: the broker refuses the serial from it.
    expect([revoked.status, await revoked.json()]).toMatchObject([200, { status: 'revoked' }]);
    expect(vault.calls.at(-1)?.path).toBe('/v1/pki/revoke');
    expect(vault.revoked.has(serial)).toBe(false);
    expect(await pendingGauge()).toBe(1);

    await revocations?.retryPending();
    expect(vault.revoked.has(serial)).toBe(false);
    expect(await pendingGauge()).toBe(1);

    vault.revokeFailure = undefined;
    await revocations?.retryPending();
    expect(vault.revoked.has(serial)).toBe(true);
    expect(await pendingGauge()).toBe(0);
    const crl = new x509.X509Crl(await (await fetch(`${service.url}/v1/pki/crl.pem`)).text());
    expect(crl.entries.map((e) => e.serialNumber.toLowerCase())).toContain(serial);
  });
});
