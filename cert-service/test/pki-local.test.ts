import {
  X509Certificate as NodeCertificate,
  createPrivateKey,
  createPublicKey,
  sign,
  verify,
  webcrypto,
} from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x509 } from '../src/pki/x509.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCa } from '../src/pki/local-ca.js';
import { CertServiceUnderTest } from './support/cert-service.js';
import { makeCsr, pemToDerBase64, renewalProof } from './support/device-keys.js';
import { NOT_ALLOWED, OK, requestFor } from './support/vernemq.js';

let sut: CertServiceUnderTest;
const secret = (id: string) => `${id}-one-time-enrolment-secret`;

interface Enrolled {
  serial: string;
  certificate: string;
  chain: string[];
  notBefore: string;
  notAfter: string;
}

async function provision(id: string): Promise<void> {
  await sut.expectOk(
    sut.internal('PUT', `/devices/${id}`, {
      status: 'active',
      ownerId: null,
      mqttPassword: `${id}-mqtt-password-0123`,
      enrolmentSecret: secret(id),
    }),
  );
}

const derToCsrPem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;

const enrol = (body: Record<string, unknown>) => sut.request('POST', '/v1/pki/enrolments', { body });

beforeAll(async () => {
  sut = await CertServiceUnderTest.start('pki-local');
});
afterAll(() => sut.stop());

describe(`local CA end to end (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  let first: Enrolled;
  let firstKey: string;
  let second: Enrolled;
  let secondKey: string;

  it('signs a CSR with CN = device id, client-auth only, for 365 days, whatever the CSR asks for', async () => {
    await provision('washer-1');
    const keys = await makeCsr('CN=admin,O=Evil', [
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'broker.example.com' }]),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.codeSigning,
      ]),
      new x509.BasicConstraintsExtension(true, 2, true),
    ]);
    const answer = await sut.expectOk(
      enrol({ deviceId: 'washer-1', csr: keys.csrPem, enrolmentSecret: secret('washer-1') }),
      201,
    );
    first = answer.body as Enrolled;
    firstKey = keys.privateKeyPem;
    const certificate = new x509.X509Certificate(first.certificate);
    expect(certificate.subject).toBe('CN=washer-1');
    expect(certificate.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([
      x509.ExtendedKeyUsage.clientAuth,
    ]);
    expect(certificate.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(certificate.getExtension(x509.SubjectAlternativeNameExtension)).toBeNull();
    const days = (certificate.notAfter.getTime() - certificate.notBefore.getTime()) / 86_400_000;
    expect(days).toBe(365);
    // The device's own key is in the certificate: the private key never left the device.
    const publicKey = createPublicKey(keys.privateKeyPem);
    expect(new NodeCertificate(first.certificate).publicKey.equals(publicKey)).toBe(true);
    const ca = new NodeCertificate(first.chain[0] ?? '');
    expect(new NodeCertificate(first.certificate).verify(ca.publicKey)).toBe(true);
    const record = await sut.expectOk(sut.internal('GET', `/certificates/${first.serial}`));
    expect(record.body).toMatchObject({
      serial: first.serial,
      deviceId: 'washer-1',
      status: 'active',
      issuedVia: 'csr',
    });
    expect(certificate.serialNumber.toLowerCase()).toBe(first.serial);
  });

  it('accepts the enrolment secret once only', async () => {
    const keys = await makeCsr();
    const again = await enrol({
      deviceId: 'washer-1',
      csr: keys.csrPem,
      enrolmentSecret: secret('washer-1'),
    });
    expect([again.status, again.body]).toMatchObject([403, { message: 'enrolment not authorised' }]);
  });

  it('lets one of several enrolments racing with the same secret through; any other certificate signed is revoked', async () => {
    await provision('washer-race');
    const csrs = await Promise.all(Array.from({ length: 6 }, () => makeCsr()));
    const answers = await Promise.all(
      csrs.map((keys) =>
        enrol({ deviceId: 'washer-race', csr: keys.csrPem, enrolmentSecret: secret('washer-race') }),
      ),
    );
    const issued = answers.filter((a) => a.status === 201);
    expect(issued).toHaveLength(1);
    expect(answers.filter((a) => a.status === 403)).toHaveLength(csrs.length - 1);
    const records = (await sut.internal('GET', '/devices/washer-race/certificates')).body as {
      serial: string;
      status: string;
      revocationReason: string | null;
    }[];
    const winner = (issued[0]?.body as Enrolled).serial;
    expect(records.filter((r) => r.status === 'active').map((r) => r.serial)).toEqual([winner]);
    // A rival that passed the secret check before the winner spent it had a certificate signed:
    // it is recorded revoked (fail-closed.test.ts forces that race).
    for (const loser of records.filter((r) => r.serial !== winner))
      expect(loser).toMatchObject({ status: 'revoked', revocationReason: 'enrolment_lost' });
  });

  it('refuses a CSR for a key other than ECDSA P-256, without spending the secret', async () => {
    await provision('washer-p384');
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=washer-p384',
      keys: keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'],
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
    });
    const refused = await enrol({
      deviceId: 'washer-p384',
      csr: csr.toString('pem'),
      enrolmentSecret: secret('washer-p384'),
    });
    expect([refused.status, refused.body]).toMatchObject([
      422,
      { message: 'the CSR key must be ECDSA P-256' },
    ]);
    await sut.expectOk(
      enrol({
        deviceId: 'washer-p384',
        csr: (await makeCsr()).csrPem,
        enrolmentSecret: secret('washer-p384'),
      }),
      201,
    );
  });

  it('refuses a wrong secret, an unknown device, a forged CSR and a malformed request', async () => {
    await provision('washer-2');
    const keys = await makeCsr();
    expect(
      (await enrol({ deviceId: 'washer-2', csr: keys.csrPem, enrolmentSecret: 'not-the-enrolment-secret' }))
        .status,
    ).toBe(403);
    expect(
      (await enrol({ deviceId: 'washer-404', csr: keys.csrPem, enrolmentSecret: secret('washer-404') }))
        .status,
    ).toBe(403);
    // The subject altered after signing: the signature is well-formed but no longer verifies.
    const altered = Buffer.from(keys.csrDer);
    const at = altered.indexOf('whatever');
    altered.write('WHATEVER', at);
    expect(
      (await enrol({ deviceId: 'washer-2', csr: derToCsrPem(altered), enrolmentSecret: secret('washer-2') }))
        .status,
    ).toBe(422);
    // The signature bytes themselves garbled: not even DER.
    const garbled = Buffer.from(keys.csrDer);
    garbled.fill(0xff, garbled.length - 40, garbled.length - 2);
    expect(
      (await enrol({ deviceId: 'washer-2', csr: derToCsrPem(garbled), enrolmentSecret: secret('washer-2') }))
        .status,
    ).toBe(422);
    expect(
      (await enrol({ deviceId: 'washer-2', csr: 'not a csr', enrolmentSecret: secret('washer-2') })).status,
    ).toBe(422);
    expect(
      (await enrol({ deviceId: 'washer/2', csr: keys.csrPem, enrolmentSecret: secret('washer-2') })).status,
    ).toBe(400);
    // A firmware engineer's first try: the answer says what the body lacks, in either form.
    const empty = await enrol({});
    expect(empty.status).toBe(400);
    expect(empty.body).toMatchObject({
      message: 'invalid request',
      problems: expect.arrayContaining(['deviceId: required', 'csr: required']),
    });
    // None of these spent the secret.
    expect(
      (await enrol({ deviceId: 'washer-2', csr: keys.csrPem, enrolmentSecret: secret('washer-2') })).status,
    ).toBe(201);
  });

  it('renews with the current certificate and a signature by its key, and only so', async () => {
    const next = await makeCsr();
    const stranger = await makeCsr();
    const wrongProof = await enrol({
      deviceId: 'washer-1',
      csr: next.csrPem,
      certificate: first.certificate,
      proof: renewalProof(stranger.privateKeyPem, next.csrDer),
    });
    expect(wrongProof.status).toBe(403);
    const otherDevice = await enrol({
      deviceId: 'washer-2',
      csr: next.csrPem,
      certificate: first.certificate,
      proof: renewalProof(firstKey, next.csrDer),
    });
    expect(otherDevice.status).toBe(403);
    const renewed = await sut.expectOk(
      enrol({
        deviceId: 'washer-1',
        csr: next.csrPem,
        certificate: first.certificate,
        proof: renewalProof(firstKey, next.csrDer),
      }),
      201,
    );
    second = renewed.body as Enrolled;
    secondKey = next.privateKeyPem;
    expect(second.serial).not.toBe(first.serial);
  });

  it('revokes the replaced certificate once the device connects with its renewal', async () => {
    const register = (certificate: string) =>
      sut.hook('auth_on_register', {
        ...requestFor('auth_on_register', {
          username: 'washer-1',
          client_id: 'washer-1',
          password: 'washer-1-mqtt-password-0123',
        }),
        client_cert: pemToDerBase64(certificate),
      });
    expect(await register(first.certificate)).toEqual(OK);
    expect((await sut.internal('GET', `/certificates/${first.serial}`)).body).toMatchObject({
      status: 'active',
    });
    expect(await register(second.certificate)).toEqual(OK);
    expect((await sut.internal('GET', `/certificates/${first.serial}`)).body).toMatchObject({
      status: 'revoked',
      revocationReason: 'superseded',
    });
    expect(await register(first.certificate)).toEqual(NOT_ALLOWED);
  });

  it('revokes a serial, lists it in the CRL as DER and PEM, and refuses renewal with it', async () => {
    const revoked = await sut.expectOk(
      sut.internal('POST', `/certificates/${second.serial}/revoke`, { reason: 'stolen' }),
    );
    expect(revoked.body).toMatchObject({ status: 'revoked', revocationReason: 'stolen' });
    const der = await fetch(`${sut.service.url}/v1/pki/crl`);
    expect(der.headers.get('content-type')).toBe('application/pkix-crl');
    const crl = new x509.X509Crl(new Uint8Array(await der.arrayBuffer()));
    const ca = new x509.X509Certificate(first.chain[0] ?? '');
    expect(await crl.verify({ publicKey: ca.publicKey })).toBe(true);
    // With the certificates that lost the enrolment race above, revoked as they were signed.
    const raceLosers = (
      (await sut.internal('GET', '/devices/washer-race/certificates')).body as {
        serial: string;
        status: string;
      }[]
    )
      .filter((r) => r.status === 'revoked')
      .map((r) => r.serial);
    const listed = [first.serial, second.serial, ...raceLosers].sort();
    expect(crl.entries.map((e) => e.serialNumber.toLowerCase()).sort()).toEqual(listed);
    const pem = await sut.request('GET', '/v1/pki/crl.pem');
    expect(pem.text).toContain('-----BEGIN X509 CRL-----');
    expect(new x509.X509Crl(pem.text).entries.map((e) => e.serialNumber.toLowerCase()).sort()).toEqual(
      listed,
    );
    const next = await makeCsr();
    const renewal = await enrol({
      deviceId: 'washer-1',
      csr: next.csrPem,
      certificate: second.certificate,
      proof: renewalProof(secondKey, next.csrDer),
    });
    expect(renewal.status).toBe(403);
  });

  it('refuses enrolment by an unused secret to a suspended or revoked device, the same way, without spending it', async () => {
    const setStatus = (id: string, status: string, withSecret: boolean) =>
      sut.expectOk(
        sut.internal('PUT', `/devices/${id}`, {
          status,
          ownerId: null,
          ...(withSecret ? { enrolmentSecret: secret(id) } : {}),
        }),
      );
    await provision('washer-stolen');
    await setStatus('washer-stolen', 'suspended', false);
    await provision('washer-deleted');
    await setStatus('washer-deleted', 'revoked', true);
    const keys = await makeCsr();
    for (const id of ['washer-stolen', 'washer-deleted']) {
      const refused = await enrol({ deviceId: id, csr: keys.csrPem, enrolmentSecret: secret(id) });
      expect([refused.status, refused.body]).toMatchObject([403, { message: 'enrolment not authorised' }]);
      expect((await sut.internal('GET', `/devices/${id}/certificates`)).body).toEqual([]);
    }
    // Reinstated, the device still holds its one-time secret.
    await setStatus('washer-stolen', 'active', false);
    await sut.expectOk(
      enrol({ deviceId: 'washer-stolen', csr: keys.csrPem, enrolmentSecret: secret('washer-stolen') }),
      201,
    );
  });

  it('refuses renewal to a suspended device, the same way, and renews once it is active again', async () => {
    await provision('washer-paused');
    const current = await makeCsr();
    const enrolled = (
      await sut.expectOk(
        enrol({ deviceId: 'washer-paused', csr: current.csrPem, enrolmentSecret: secret('washer-paused') }),
        201,
      )
    ).body as Enrolled;
    const next = await makeCsr();
    const renewal = () =>
      enrol({
        deviceId: 'washer-paused',
        csr: next.csrPem,
        certificate: enrolled.certificate,
        proof: renewalProof(current.privateKeyPem, next.csrDer),
      });
    await sut.expectOk(sut.internal('PUT', '/devices/washer-paused', { status: 'suspended', ownerId: null }));
    const refused = await renewal();
    expect([refused.status, refused.body]).toMatchObject([403, { message: 'enrolment not authorised' }]);
    await sut.expectOk(sut.internal('PUT', '/devices/washer-paused', { status: 'active', ownerId: null }));
    await sut.expectOk(renewal(), 201);
  });

  it('issues a legacy key and certificate once, keeping only the serial', async () => {
    await provision('old-washer');
    const issued = await sut.expectOk(sut.internal('POST', '/devices/old-washer/legacy-credentials'), 201);
    const body = issued.body as { serial: string; certificate: string; privateKey: string };
    const certificate = new NodeCertificate(body.certificate);
    expect(certificate.subject).toBe('CN=old-washer');
    const signature = sign('sha256', Buffer.from('hello'), createPrivateKey(body.privateKey));
    expect(verify('sha256', Buffer.from('hello'), certificate.publicKey, signature)).toBe(true);
    const record = await sut.expectOk(sut.internal('GET', `/certificates/${body.serial}`));
    expect(record.body).toMatchObject({ deviceId: 'old-washer', issuedVia: 'legacy', status: 'active' });
    expect(JSON.stringify(record.body)).not.toContain('BEGIN');
    const files = await readdir(join(sut.database.env.DATA_DIR, 'cert-service', 'ca'));
    expect(files.sort()).toEqual(['ca-key-encryption.key', 'ca-key.enc', 'ca.crt']);
  });

  it('keeps the internal API closed without the service token', async () => {
    expect((await sut.request('GET', '/internal/v1/devices/washer-1')).status).toBe(401);
    const wrong = await sut.request('GET', '/internal/v1/devices/washer-1', {
      headers: { authorization: 'Bearer wrong' },
    });
    expect(wrong.status).toBe(401);
  });
});

describe('local CA key at rest', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'local-ca-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('seals the CA key under a 0600 key file and reopens the same CA', async () => {
    const noRevocations = async () => [];
    const first = await LocalCa.open({ dir, encryptionKey: undefined, revokedSerials: noRevocations });
    expect((await stat(join(dir, 'ca-key-encryption.key'))).mode & 0o777).toBe(0o600);
    const sealed = JSON.parse(await readFile(join(dir, 'ca-key.enc'), 'utf8')) as Record<string, string>;
    expect(Object.keys(sealed).sort()).toEqual(['data', 'iv', 'tag', 'v']);
    const again = await LocalCa.open({ dir, encryptionKey: undefined, revokedSerials: noRevocations });
    expect(await again.caChainPem()).toEqual(await first.caChainPem());
    await expect(
      LocalCa.open({
        dir,
        encryptionKey: Buffer.alloc(32, 7).toString('base64'),
        revokedSerials: noRevocations,
      }),
    ).rejects.toThrow('key-encryption key does not match');
  });

  it('uses a configured key-encryption key instead of a key file', async () => {
    const configured = await mkdtemp(join(tmpdir(), 'local-ca-configured-'));
    const key = Buffer.alloc(32, 9).toString('base64');
    const noRevocations = async () => [];
    const ca = await LocalCa.open({ dir: configured, encryptionKey: key, revokedSerials: noRevocations });
    expect((await readdir(configured)).sort()).toEqual(['ca-key.enc', 'ca.crt']);
    const reopened = await LocalCa.open({
      dir: configured,
      encryptionKey: key,
      revokedSerials: noRevocations,
    });
    expect(await reopened.caChainPem()).toEqual(await ca.caChainPem());
    await rm(configured, { recursive: true, force: true });
  });
});
