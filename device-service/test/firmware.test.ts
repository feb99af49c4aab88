import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { eventually, laterPort } from '@spincycle/common/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_SCOPES, DeviceServiceUnderTest, type DeviceCertificate } from './support/device-service.js';

const engine = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite';
const ADMIN = { as: 'admin-1', token: { scopes: ADMIN_SCOPES, roles: ['admin'] } };

/** A release key as the signing workstation holds it; only its public half is configured. */
function releaseKey(): { privateKey: KeyObject; publicRaw: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return { privateKey, publicRaw: spki.subarray(spki.length - 32).toString('base64') };
}

const release = releaseKey();
const stranger = releaseKey();

const signImage = (image: Buffer, key: KeyObject = release.privateKey): string =>
  sign(null, createHash('sha256').update(image).digest(), key).toString('base64url');

let sut: DeviceServiceUnderTest;
let serverCa: string;
let downloads: string;

beforeAll(async () => {
  const port = await laterPort();
  downloads = `https://127.0.0.1:${port}`;
  sut = await DeviceServiceUnderTest.start(
    'firmware',
    {
      FIRMWARE_SIGNING_KEYS: `release-2026:${release.publicRaw}`,
      FIRMWARE_DOWNLOAD_PORT: String(port),
      FIRMWARE_MAX_BYTES: String(64 * 1024),
    },
    { broker: true },
  );
  serverCa = await readFile(join(sut.dataDir, 'device-service', 'tls', 'server.crt'), 'utf8');
});
afterAll(() => sut.stop());

async function upload(
  image: Buffer,
  query: Record<string, string>,
  options: { contentType?: string; as?: string; roles?: string[] } = {},
) {
  const token = await sut.identity.token(options.as ?? 'admin-1', {
    scopes: ADMIN_SCOPES,
    roles: options.roles ?? ['admin'],
  });
  const response = await fetch(`${sut.service.url}/admin/firmware?${new URLSearchParams(query)}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': options.contentType ?? 'application/octet-stream',
    },
    body: image,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

let versions = 0;
/** A fresh image and version for the model, uploaded and accepted. */
async function uploaded(model = 'SC-W800', version = `1.${++versions}.0`) {
  const image = randomBytes(20_000);
  const answer = await upload(image, { model, version, keyId: 'release-2026', signature: signImage(image) });
  expect(answer.status).toBe(201);
  return { image, firmware: answer.body as { id: string; version: string; sha256: string } };
}

/** What a device does with an offer: fetch the image over HTTPS with its client certificate. */
function download(
  url: string,
  certificate: DeviceCertificate | null,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { ca: serverCa, ...(certificate ? { cert: certificate.cert, key: certificate.key } : {}), headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A claimed device with its own certificate, connected and listening on its ota topic. */
async function deviceOnline(model = 'SC-W800') {
  const [device] = await sut.provision(1, model);
  if (!device) throw new Error('nothing provisioned');
  const certificate = await sut.enrolCertificate(device.id, device.enrolmentSecret);
  const machine = await sut.connectDevice(device.id, device.mqttPassword);
  const offers: Record<string, unknown>[] = [];
  machine.on('message', (topic, payload) => {
    if (topic === `devices/${device.id}/ota`)
      offers.push(JSON.parse(payload.toString()) as Record<string, unknown>);
  });
  await machine.subscribeAsync(`devices/${device.id}/ota`, { qos: 1 });
  return { device, certificate, machine, offers };
}

describe(`firmware upload (${engine})`, () => {
  it('accepts an image signed by a configured key and lists it', async () => {
    const { image, firmware } = await uploaded('SC-W800', '2.0.0');
    expect(firmware).toMatchObject({
      version: '2.0.0',
      sha256: createHash('sha256').update(image).digest('hex'),
      sizeBytes: image.length,
      keyId: 'release-2026',
    });
    const list = await sut.request('GET', '/admin/firmware?model=SC-W800', ADMIN);
    expect(list.status).toBe(200);
    expect((list.body as { firmware: { id: string }[] }).firmware.map((f) => f.id)).toContain(firmware.id);
  });

  it('refuses an image whose signature does not verify, and keeps nothing', async () => {
    const image = randomBytes(1000);
    const tampered = Buffer.from(image);
    tampered[10] = (tampered[10] ?? 0) ^ 1;
    const cases = [
      { image: tampered, signature: signImage(image) },
      { image, signature: signImage(image, stranger.privateKey) },
    ];
    for (const c of cases) {
      const answer = await upload(c.image, {
        model: 'SC-W800',
        version: '9.9.9',
        keyId: 'release-2026',
        signature: c.signature,
      });
      expect(answer).toMatchObject({
        status: 422,
        body: { message: expect.stringMatching(/signature refused/) },
      });
    }
    const rows: unknown[] = await sut.database.dataSource.query(
      "SELECT 1 FROM firmware WHERE version = '9.9.9'",
    );
    expect(rows).toHaveLength(0);
  });

  it.each([
    ['version', { model: 'SC-W800', version: '1.2', keyId: 'release-2026' }],
    ['model', { model: 'SC-X1', version: '1.2.3', keyId: 'release-2026' }],
    ['keyId', { model: 'SC-W800', version: '1.2.3', keyId: 'someone-else' }],
  ])('refuses a bad %s with a 400 naming it', async (field, query) => {
    const image = randomBytes(100);
    const answer = await upload(image, { ...query, signature: signImage(image) });
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body.problems)).toContain(field);
  });

  it('refuses a second image of the same version, an oversized image and a JSON body', async () => {
    const { image } = await uploaded('SC-W800', '3.0.0');
    const again = await upload(image, {
      model: 'SC-W800',
      version: '3.0.0',
      keyId: 'release-2026',
      signature: signImage(image),
    });
    expect(again.status).toBe(409);
    const big = randomBytes(64 * 1024 + 1);
    const tooBig = await upload(big, {
      model: 'SC-W800',
      version: '3.1.0',
      keyId: 'release-2026',
      signature: signImage(big),
    });
    expect(tooBig.status).toBe(413);
    const json = await upload(
      Buffer.from('{}'),
      { model: 'SC-W800', version: '3.2.0', keyId: 'release-2026', signature: signImage(Buffer.from('{}')) },
      { contentType: 'application/json' },
    );
    expect(json.status).toBe(415);
  });

  it('is for administrators only, even with the admin scope', async () => {
    const image = randomBytes(100);
    const answer = await upload(
      image,
      { model: 'SC-W800', version: '4.0.0', keyId: 'release-2026', signature: signImage(image) },
      { as: 'owner-1', roles: ['homeowner'] },
    );
    expect(answer.status).toBe(403);
    expect((await sut.request('GET', '/admin/firmware', { as: 'owner-1' })).status).toBe(403);
  });
});

describe(`firmware rollout and download (${engine})`, () => {
  it('offers a newer image on the device ota topic, and the device downloads it with its certificate, in ranges too', async () => {
    const { device, certificate, offers } = await deviceOnline();
    const { image, firmware } = await uploaded();
    const rollout = await sut.request('POST', `/admin/firmware/${firmware.id}/rollouts`, {
      ...ADMIN,
      body: { deviceIds: [device.id] },
    });
    expect(rollout).toMatchObject({ status: 200, body: { offered: [device.id], skipped: [] } });
    await eventually(() => offers.length > 0, 'the firmware offer');
    const offer = offers[0] as { url: string; sha256: string; signature: string; version: string };
    expect(offer).toMatchObject({ type: 'firmware', version: firmware.version, sha256: firmware.sha256 });

    const whole = await download(offer.url, certificate);
    expect(whole.status).toBe(200);
    expect(whole.body.equals(image)).toBe(true);

    const part = await download(offer.url, certificate, { range: 'bytes=1000-1999' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 1000-1999/${image.length}`);
    expect(part.body.equals(image.subarray(1000, 2000))).toBe(true);

    const tail = await download(offer.url, certificate, { range: `bytes=${image.length}-` });
    expect(tail.status).toBe(416);
  });

  it('offers an image to every device of its model, more of them than it offers at once, and records each', async () => {
    await sut.provision(40, 'SC-W900');
    const { firmware } = await uploaded('SC-W900', '2.0.0');
    const rows: { id: string }[] = await sut.database.dataSource.query(
      "SELECT id FROM devices WHERE model = 'SC-W900' ORDER BY id",
    );
    const rollout = await sut.request('POST', `/admin/firmware/${firmware.id}/rollouts`, {
      ...ADMIN,
      body: {},
    });
    expect(rollout).toMatchObject({ status: 200, body: { offered: rows.map((r) => r.id), skipped: [] } });
    const listed = await sut.request('GET', `/admin/firmware/${firmware.id}`, ADMIN);
    const recorded = (listed.body as { rollouts: { deviceId: string; status: string }[] }).rollouts;
    expect(recorded.map((r) => [r.deviceId, r.status])).toEqual(rows.map((r) => [r.id, 'offered']));
  });

  it('refuses a download without a client certificate, or with another CA’s', async () => {
    const { firmware } = await uploaded();
    const { device } = await deviceOnline();
    const url = `${downloads}/v1/firmware/${firmware.id}`;
    await expect(download(url, null)).rejects.toThrow();
    const foreign = await selfSignedClient(device.id);
    await expect(download(url, foreign)).rejects.toThrow();
  });

  it('never offers nor serves a version that is not newer than what the device runs', async () => {
    const { device, certificate, machine } = await deviceOnline();
    const older = await uploaded('SC-W800', '0.5.0');
    // The device reports that it runs 5.0.0 now. Resent until stored: the ingester's session may
    // still be opening, and the event id makes every resend after the first a duplicate.
    let running: string | null = null;
    for (let i = 0; i < 40 && running !== '5.0.0'; i++) {
      await machine.publishAsync(
        `devices/${device.id}/events`,
        JSON.stringify({ id: 'ota-1', type: 'ota.installed', data: { version: '5.0.0' } }),
        { qos: 1 },
      );
      await new Promise((r) => setTimeout(r, 250));
      const rows: { firmware_version: string | null }[] = await sut.database.dataSource.query(
        'SELECT firmware_version FROM devices WHERE id = $1',
        [device.id],
      );
      running = rows[0]?.firmware_version ?? null;
    }
    expect(running).toBe('5.0.0');

    const rollout = await sut.request('POST', `/admin/firmware/${older.firmware.id}/rollouts`, {
      ...ADMIN,
      body: { deviceIds: [device.id] },
    });
    expect(rollout).toMatchObject({ status: 200, body: { offered: [], skipped: [{ deviceId: device.id }] } });
    const answer = await download(`${downloads}/v1/firmware/${older.firmware.id}`, certificate);
    expect(answer.status).toBe(409);
  });

  it("does not serve another model's image", async () => {
    const { certificate } = await deviceOnline('SC-W600');
    const { firmware } = await uploaded('SC-W800');
    const answer = await download(`${downloads}/v1/firmware/${firmware.id}`, certificate);
    expect(answer.status).toBe(404);
  });
});

async function selfSignedClient(commonName: string): Promise<DeviceCertificate> {
  const { selfSigned } = await import('@spincycle/common');
  const made = await selfSigned([], [], commonName);
  return { cert: made.cert, key: made.key, serial: '' };
}
