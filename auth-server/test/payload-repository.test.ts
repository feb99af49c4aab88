import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '@spincycle/common/testing';
import { migrations } from '../src/storage/migrations.js';
import { adapterFactory, PayloadRepository } from '../src/storage/payload.repository.js';

let close: () => Promise<void>;
let payloads: PayloadRepository;
beforeAll(async () => {
  const opened = await openTestDatabase('auth-payloads', { service: 'auth-server', migrations });
  close = opened.close;
  payloads = new PayloadRepository(opened.database.dataSource);
});
afterAll(() => close?.());

describe("oidc-provider's storage adapter on the database", () => {
  it('finds by id, uid and user code within one model only', async () => {
    const sessions = adapterFactory(payloads)('Session');
    await sessions.upsert('s1', { uid: 'u1', accountId: 'a' }, 60);
    expect(await sessions.find('s1')).toEqual({ uid: 'u1', accountId: 'a' });
    expect(await sessions.findByUid('u1')).toEqual({ uid: 'u1', accountId: 'a' });
    expect(await adapterFactory(payloads)('Grant').find('s1')).toBeUndefined();
    const codes = adapterFactory(payloads)('DeviceCode');
    await codes.upsert('d1', { userCode: 'ABCD-EFGH' }, 60);
    expect(await codes.findByUserCode('ABCD-EFGH')).toEqual({ userCode: 'ABCD-EFGH' });
  });

  it('marks consumed tokens, which reuse detection depends on', async () => {
    const tokens = adapterFactory(payloads)('RefreshToken');
    await tokens.upsert('r1', { grantId: 'g1', accountId: 'a' }, 60);
    await tokens.consume('r1');
    expect(await tokens.find('r1')).toMatchObject({ grantId: 'g1', consumed: true });
  });

  it('revokes by grant within the model, and a whole grant across models', async () => {
    const access = adapterFactory(payloads)('AccessToken');
    const refresh = adapterFactory(payloads)('RefreshToken');
    await access.upsert('a2', { grantId: 'g2' }, 60);
    await refresh.upsert('r2', { grantId: 'g2' }, 60);
    await access.revokeByGrantId('g2');
    expect(await access.find('a2')).toBeUndefined();
    expect(await refresh.find('r2')).toBeDefined();
    await adapterFactory(payloads)('Grant').upsert('g2', { accountId: 'a', clientId: 'c' }, 60);
    expect(await payloads.grantIdsOf('a', 'c')).toEqual(['g2']);
    await payloads.revokeGrant('g2');
    expect(await refresh.find('r2')).toBeUndefined();
    expect(await payloads.grantIdsOf('a')).toEqual([]);
  });

  it('hides expired rows at once and sweeps them', async () => {
    const interactions = adapterFactory(payloads)('Interaction');
    await interactions.upsert('expired', { uid: 'x' }, -1);
    await interactions.upsert('alive', { uid: 'y' }, 60);
    expect(await interactions.find('expired')).toBeUndefined();
    expect(await payloads.deleteExpired()).toBe(1);
    expect(await interactions.find('alive')).toBeDefined();
    expect(await payloads.deleteExpired()).toBe(0);
  });

  it('deletes only the sessions of the given subject', async () => {
    const sessions = adapterFactory(payloads)('Session');
    await sessions.upsert('mine', { accountId: 'leaver' }, 60);
    await sessions.upsert('theirs', { accountId: 'stayer' }, 60);
    await payloads.deleteSessionsOf('leaver');
    expect(await sessions.find('mine')).toBeUndefined();
    expect(await sessions.find('theirs')).toBeDefined();
  });
});
