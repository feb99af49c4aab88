import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_SCOPES, DeviceServiceUnderTest } from './support/device-service.js';

const engine = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite';
const INTERNAL_TOKEN = 'user-service-token-for-tests-0123456789';
let sut: DeviceServiceUnderTest;

beforeAll(async () => {
  // A low allowance and a long first lockout, so the lockout is reached and holds during the test.
  sut = await DeviceServiceUnderTest.start('claims', {
    CLAIM_ATTEMPTS_BEFORE_LOCKOUT: '3',
    CLAIM_LOCKOUT_BASE_SECONDS: '600',
    INTERNAL_API_TOKEN: INTERNAL_TOKEN,
  });
});
afterAll(() => sut.stop());

const claim = (as: string, serial: unknown, claimCode: unknown) =>
  sut.request('POST', '/claims', { as, body: { serial, claimCode } });

describe(`identity from the access proxy (${engine})`, () => {
  it('refuses a request without an id_token', async () => {
    expect((await sut.request('GET', '/devices')).status).toBe(401);
  });

  it('ignores X-User-* headers', async () => {
    const answer = await sut.request('GET', '/devices', {
      headers: { 'x-user-id': 'owner-1', 'x-user-roles': 'admin' },
    });
    expect(answer.status).toBe(401);
  });

  it.each([
    ['signed by a key the proxy does not publish', { foreignKey: true }],
    ['for another audience', { audience: 'cert-service' }],
    ['from another issuer', { issuer: 'http://evil.test/' }],
    ['expired', { expiresInSeconds: -60 }],
  ])('refuses a token %s', async (_what, token) => {
    expect((await sut.request('GET', '/devices', { as: 'owner-1', token })).status).toBe(401);
  });

  it("refuses a route whose scope the token lacks, even if the proxy's rule were wrong", async () => {
    const answer = await sut.request('GET', '/devices', {
      as: 'owner-1',
      token: { scopes: ['events.read'] },
    });
    expect(answer.status).toBe(403);
  });

  it('serves a valid token', async () => {
    expect(await sut.request('GET', '/devices', { as: 'owner-1' })).toMatchObject({
      status: 200,
      body: { devices: [] },
    });
  });
});

describe(`factory provisioning (${engine})`, () => {
  it('creates devices in bulk and returns their secrets and QR labels once', async () => {
    const manifest = await sut.provision(3);
    expect(manifest).toHaveLength(3);
    for (const device of manifest) {
      expect(device.claimCode).toMatch(/^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/);
      expect(Buffer.from(device.mqttPassword, 'base64url')).toHaveLength(16);
      expect(Buffer.from(device.enrolmentSecret, 'base64url')).toHaveLength(16);
      expect(device.labelSvg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
      // cert-service learnt the device and will accept its MQTT password.
      const known = await sut.certServiceDevice(device.id);
      expect(known).toMatchObject({
        status: 200,
        body: { status: 'active', ownerId: null, enrolmentPending: true },
      });
    }
  });

  it('stores only keyed hashes: no secret of the manifest appears in the database', async () => {
    const [device] = await sut.provision(1);
    const rows: Record<string, unknown>[] = await sut.database.dataSource.query(
      'SELECT * FROM devices WHERE id = $1',
      [device?.id],
    );
    const dump = JSON.stringify(rows, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
    for (const secret of [
      device?.claimCode,
      device?.claimCode.replace(/-/g, ''),
      device?.mqttPassword,
      device?.enrolmentSecret,
    ]) {
      expect(dump).not.toContain(secret);
    }
    expect((rows[0]?.claim_code_hash as Buffer).length).toBe(32);
  });

  it('refuses a caller without the admin role even with the admin scope', async () => {
    const answer = await sut.request('POST', '/admin/devices', {
      as: 'owner-1',
      token: { scopes: ADMIN_SCOPES, roles: ['homeowner'] },
      body: { devices: [{ serial: 'SN-NOT-ADMIN', model: 'SC-W800', hardwareRevision: 'r1' }] },
    });
    expect(answer.status).toBe(403);
  });

  it('refuses an admin whose token lacks the provisioning scope', async () => {
    const answer = await sut.request('POST', '/admin/devices', {
      as: 'admin-1',
      token: { scopes: ['admin.firmware'], roles: ['admin'] },
      body: { devices: [{ serial: 'SN-NO-SCOPE', model: 'SC-W800', hardwareRevision: 'r1' }] },
    });
    expect(answer.status).toBe(403);
  });

  it('refuses a serial already registered, making nothing of the batch', async () => {
    const [existing] = await sut.provision(1);
    const answer = await sut.request('POST', '/admin/devices', {
      as: 'admin-1',
      token: { scopes: ADMIN_SCOPES, roles: ['admin'] },
      body: {
        devices: [
          { serial: 'SN-FRESH-0001', model: 'SC-W800', hardwareRevision: 'r1' },
          { serial: existing?.serial, model: 'SC-W800', hardwareRevision: 'r1' },
        ],
      },
    });
    expect(answer).toMatchObject({ status: 409, body: { serials: [existing?.serial] } });
    const fresh: unknown[] = await sut.database.dataSource.query(
      `SELECT 1 FROM devices WHERE serial = 'SN-FRESH-0001'`,
    );
    expect(fresh).toEqual([]);
  });

  it('names the bad field of a batch: unknown model', async () => {
    const answer = await sut.request('POST', '/admin/devices', {
      as: 'admin-1',
      token: { scopes: ADMIN_SCOPES, roles: ['admin'] },
      body: { devices: [{ serial: 'SN-BAD-MODEL', model: 'SC-X1', hardwareRevision: 'r1' }] },
    });
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).toContain('devices.0.model');
  });
});

describe(`claiming (${engine})`, () => {
  it('gives the device to the first homeowner with the right code, and tells cert-service', async () => {
    const [device] = await sut.provision(1);
    const answer = await claim(
      'owner-claim',
      device?.serial,
      device?.claimCode.toLowerCase().replace(/-/g, ' '),
    );
    expect(answer).toMatchObject({ status: 201, body: { id: device?.id, serial: device?.serial } });
    expect(await sut.certServiceDevice(device?.id ?? '')).toMatchObject({ body: { ownerId: 'owner-claim' } });
    const mine = await sut.request('GET', '/devices', { as: 'owner-claim' });
    expect((mine.body as { devices: { id: string }[] }).devices.map((d) => d.id)).toEqual([device?.id]);
  });

  it('refuses a wrong code, and an unknown serial with the same answer', async () => {
    const [device] = await sut.provision(1);
    const wrong = await claim('owner-wrong', device?.serial, 'AAAAA-AAAAA-AAAAA-AAAAA');
    const unknown = await claim('owner-wrong-2', 'SN-NO-SUCH-DEVICE', device?.claimCode);
    expect(wrong.status).toBe(403);
    expect(unknown).toEqual({ ...unknown, status: 403, body: wrong.body });
  });

  it('refuses the code once spent, and a claimed device to anyone else', async () => {
    const [device] = await sut.provision(1);
    const body = { serial: device?.serial, claimCode: device?.claimCode };
    expect((await sut.request('POST', '/claims', { as: 'owner-first', body })).status).toBe(201);
    expect((await sut.request('POST', '/claims', { as: 'owner-second', body })).status).toBe(409);
    expect((await sut.request('POST', '/claims', { as: 'owner-first', body })).status).toBe(409);
  });

  it('locks a device out after too many wrong codes, even for the right code and another user', async () => {
    const [device] = await sut.provision(1);
    for (const guesser of ['guesser-1', 'guesser-2', 'guesser-3']) {
      const answer = await claim(guesser, device?.serial, 'BBBBB-BBBBB-BBBBB-BBBBB');
      expect(answer.status).toBe(403);
    }
    const locked = await claim('rightful-owner', device?.serial, device?.claimCode);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('locks a user out after too many wrong codes across devices', async () => {
    const devices = await sut.provision(4);
    for (const device of devices.slice(0, 3)) {
      const answer = await claim('serial-guesser', device.serial, 'CCCCC-CCCCC-CCCCC-CCCCC');
      expect(answer.status).toBe(403);
    }
    const last = devices[3];
    const locked = await claim('serial-guesser', last?.serial, last?.claimCode);
    expect(locked.status).toBe(429);
    // The devices themselves are not locked by one user's guesses below their own allowance.
    const other = await claim('someone-else', last?.serial, last?.claimCode);
    expect(other.status).toBe(201);
  });
});

describe(`release (${engine})`, () => {
  it('ends grants, revokes the certificate through cert-service and rotates the claim code', async () => {
    sut.directory.accounts.set('tech@example.test', { id: 'tech-release', roles: ['technician'] });
    const [device] = await sut.provision(1);
    const id = device?.id ?? '';
    expect((await claim('owner-rel', device?.serial, device?.claimCode)).status).toBe(201);
    const grant = await sut.request('POST', `/devices/${id}/grants`, {
      as: 'owner-rel',
      body: { email: 'tech@example.test', scope: 'read' },
    });
    expect(grant.status).toBe(201);

    const released = await sut.request('DELETE', `/devices/${id}/claim`, { as: 'owner-rel' });
    expect(released.status).toBe(200);
    const { claimCode } = released.body as { claimCode: string; labelSvg: string };
    expect(claimCode).not.toBe(device?.claimCode);
    expect(released.headers.get('cache-control')).toBe('no-store');

    expect(await sut.certServiceDevice(id)).toMatchObject({ body: { ownerId: null } });
    expect((await sut.request('GET', `/devices/${id}`, { as: 'owner-rel' })).status).toBe(404);
    expect((await sut.request('GET', `/devices/${id}`, { as: 'tech-release' })).status).toBe(404);
    const revocations: { action: string }[] = await sut.database.dataSource.query(
      `SELECT action FROM audit_log WHERE device_id = $1 ORDER BY id`,
      [id],
    );
    expect(revocations.map((r) => r.action)).toEqual([
      'device.claimed',
      'grant.created',
      'grant.revoked',
      'device.released',
    ]);

    // The old code is dead; the new one claims.
    const old = await claim('owner-next', device?.serial, device?.claimCode);
    expect(old.status).toBe(403);
    const next = await sut.request('POST', '/claims', {
      as: 'owner-next',
      body: { serial: device?.serial, claimCode },
    });
    expect(next.status).toBe(201);
  });

  it('is refused to anyone but the owner, with 404', async () => {
    const device = await sut.claimedDevice('owner-keep');
    expect((await sut.request('DELETE', `/devices/${device.id}/claim`, { as: 'stranger' })).status).toBe(404);
    expect(await sut.certServiceDevice(device.id)).toMatchObject({ body: { ownerId: 'owner-keep' } });
  });
});

describe(`account deletion (${engine})`, () => {
  const releaseOf = (userId: string, token?: string) =>
    sut.request('POST', `/internal/v1/users/${userId}/release-devices`, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });

  it('answers only user-service, holding the internal token', async () => {
    expect((await releaseOf('leaving-owner')).status).toBe(401);
    expect((await releaseOf('leaving-owner', 'not-the-token-0123456789-abcdefghij')).status).toBe(401);
    // An end user's identity token is no internal token.
    const userToken = await sut.identity.token('leaving-owner', { scopes: ['device.claim'] });
    expect((await releaseOf('leaving-owner', userToken)).status).toBe(401);
  });

  it('releases every device of the account and ends the grants it held as a technician', async () => {
    sut.directory.accounts.set('leaving@example.test', { id: 'leaving-owner', roles: ['technician'] });
    const first = await sut.claimedDevice('leaving-owner');
    const second = await sut.claimedDevice('leaving-owner');
    const neighbours = await sut.claimedDevice('staying-owner');
    const grant = await sut.request('POST', `/devices/${neighbours.id}/grants`, {
      as: 'staying-owner',
      body: { email: 'leaving@example.test', scope: 'control' },
    });
    expect(grant.status).toBe(201);

    const answer = await releaseOf('leaving-owner', INTERNAL_TOKEN);
    expect(answer).toMatchObject({ status: 200, body: { releasedDevices: 2, revokedGrants: 1 } });
    for (const device of [first, second]) {
      expect(await sut.certServiceDevice(device.id)).toMatchObject({ body: { ownerId: null } });
    }
    expect((await sut.request('GET', '/devices', { as: 'leaving-owner' })).body).toEqual({ devices: [] });
    const granted = await sut.request('GET', `/devices/${neighbours.id}`, { as: 'leaving-owner' });
    expect(granted.status).toBe(404);
    expect((await sut.request('GET', `/devices/${neighbours.id}`, { as: 'staying-owner' })).status).toBe(200);
  });
});

describe(`without a broker to send commands through (${engine})`, () => {
  it('refuses a settings change with 502 and saves nothing', async () => {
    const device = await sut.claimedDevice('owner-no-broker');
    const answer = await sut.request('PUT', `/devices/${device.id}/settings`, {
      as: 'owner-no-broker',
      body: { program: 'quick', temperatureC: 30, spinRpm: 800 },
    });
    expect(answer.status).toBe(502);
    expect((await sut.request('GET', `/devices/${device.id}`, { as: 'owner-no-broker' })).body).toMatchObject(
      {
        settings: null,
      },
    );
  });
});

describe(`without cert-service (${engine})`, () => {
  it('changes nothing and answers 502 when cert-service cannot be told', async () => {
    const [device] = await sut.provision(1);
    await sut.stopCertService();
    const answer = await claim('owner-late', device?.serial, device?.claimCode);
    expect(answer).toMatchObject({
      status: 502,
      body: { message: 'certificate service is unavailable; nothing was changed' },
    });
    const rows: { owner_id: string | null; claim_code_hash: Buffer | null }[] =
      await sut.database.dataSource.query('SELECT owner_id, claim_code_hash FROM devices WHERE id = $1', [
        device?.id,
      ]);
    expect(rows[0]?.owner_id).toBeNull();
    expect(rows[0]?.claim_code_hash).not.toBeNull();
  });

  it('still lists devices, with their online state unknown', async () => {
    const answer = await sut.request('GET', '/devices', { as: 'owner-claim' });
    expect(answer.status).toBe(200);
    expect((answer.body as { devices: { online: boolean | null }[] }).devices).toMatchObject([
      { online: null },
    ]);
  });
});
