import type { ServiceDatabase } from '@spincycle/common';
import { openTestDatabase } from '@spincycle/common/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { migrations } from '../src/database/migrations.js';
import { FactsRepository } from '../src/facts/facts.repository.js';

let close: () => Promise<void>;
let database: ServiceDatabase;
let facts: FactsRepository;
const DEVICES = 30;
const deviceId = (i: number) => `D${i}`;
const passwordHash = (i: number) => Buffer.from(`hash-of-${i}`);
const inAnHour = new Date(Date.now() + 3_600_000);
/** The technician's control grant on D7. */
const grantTechnician = ({ revoked }: { revoked: boolean }) =>
  facts.upsertGrant({
    id: 'g1',
    technicianId: 'tech',
    deviceId: deviceId(7),
    scope: 'control',
    expiresAt: inAnHour,
    revoked,
  });

beforeAll(async () => {
  ({ database, close } = await openTestDatabase('facts-batching', { service: 'cert-service', migrations }));
  facts = new FactsRepository(database.dataSource);
  for (let i = 0; i < DEVICES; i++) {
    await facts.upsertDevice({
      id: deviceId(i),
      status: i % 5 === 4 ? 'suspended' : 'active',
      ownerId: `owner-${i % 3}`,
      mqttPasswordHash: passwordHash(i),
      enrolmentSecretHash: null,
    });
  }
  await grantTechnician({ revoked: false });
  await facts.upsertService('ingester', Buffer.from('service-hash'), ['ingest']);
});

afterAll(() => close?.());

describe(`fact lookups asked together (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  it('answers each access lookup with its own facts, in one statement', async () => {
    const query = vi.spyOn(database.dataSource, 'query');
    const asked = [
      ...Array.from({ length: DEVICES }, (_, i) => [deviceId(i), deviceId(i)] as const),
      ['tech', deviceId(7)] as const,
      ['tech', deviceId(8)] as const,
      ['ingester', deviceId(3)] as const,
      ['nobody', 'no-such-device'] as const,
    ];
    const records = await Promise.all(asked.map(([username, device]) => facts.loadAccess(username, device)));
    expect(query).toHaveBeenCalledTimes(1);
    query.mockRestore();

    records.slice(0, DEVICES).forEach((record, i) => {
      const status = i % 5 === 4 ? 'suspended' : 'active';
      expect(record).toEqual({
        actorDevice: { status },
        actorService: null,
        device: { id: deviceId(i), status, ownerId: `owner-${i % 3}` },
        grants: [],
      });
    });
    const [withGrant, withoutGrant, service, stranger] = records.slice(DEVICES);
    expect(withGrant).toEqual({
      actorDevice: null,
      actorService: null,
      device: { id: deviceId(7), status: 'active', ownerId: 'owner-1' },
      grants: [{ scope: 'control', expiresAt: inAnHour, revoked: false }],
    });
    expect(withoutGrant?.grants).toEqual([]);
    expect(service).toMatchObject({ actorDevice: null, actorService: ['ingest'] });
    expect(stranger).toEqual({ actorDevice: null, actorService: null, device: null, grants: [] });
  });

  it('answers each registration lookup with its own facts, in one statement', async () => {
    const query = vi.spyOn(database.dataSource, 'query');
    const usernames = [deviceId(0), deviceId(4), 'ingester', 'nobody', deviceId(0)];
    const records = await Promise.all(usernames.map((username) => facts.loadRegistration(username)));
    expect(query).toHaveBeenCalledTimes(1);
    query.mockRestore();

    expect(records[0]).toEqual({
      device: { status: 'active', mqttPasswordHash: passwordHash(0) },
      service: null,
    });
    expect(records[1]?.device?.status).toBe('suspended');
    expect(records[2]).toEqual({
      device: null,
      service: { secretHash: Buffer.from('service-hash'), permissions: ['ingest'] },
    });
    expect(records[3]).toEqual({ device: null, service: null });
    expect(records[4]).toEqual(records[0]);
  });

  it('reads facts changed while an earlier batch is on its way', async () => {
    const earlier = facts.loadAccess('tech', deviceId(7));
    // The earlier batch leaves at the end of this turn; the revocation commits after that.
    await new Promise((resolve) => setImmediate(resolve));
    await grantTechnician({ revoked: true });
    const later = await facts.loadAccess('tech', deviceId(7));
    await earlier;
    expect(later.grants).toEqual([{ scope: 'control', expiresAt: inAnHour, revoked: true }]);
  });

  it('fails every lookup of a batch when the statement fails, and the next batch works again', async () => {
    const query = vi.spyOn(database.dataSource, 'query').mockRejectedValueOnce(new Error('connection lost'));
    const failed = await Promise.allSettled([
      facts.loadAccess(deviceId(1), deviceId(1)),
      facts.loadRegistration('x'),
    ]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    query.mockRestore();
    await expect(facts.loadAccess(deviceId(1), deviceId(1))).resolves.toMatchObject({
      device: { id: deviceId(1) },
    });
  });
});
