import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@spincycle/common/testing';
import { startStack, type EnrolledDevice, type Stack } from './stack.js';

/**
 * The whole path with the real cert-service: a device enrols by CSR with its one-time secret,
 * connects over mutual TLS with the certificate it got, publishes its state, and its owner's app
 * (WSS, access token) receives it; a stranger's subscription is refused with QoS 128; cert-service
 * sees the device online while it is connected; revoking the device's certificate ends its live
 * session at once.
 */
describe('device to owner through the real cert-service', () => {
  let stack: Stack;
  let device: EnrolledDevice;

  beforeAll(async () => {
    stack = await startStack();
    device = await stack.enrolDevice('D1', 'alice');
  });

  afterAll(async () => {
    await stack?.close();
  });

  const internal: Stack['internal'] = (method, path, body) => stack.internal(method, path, body);
  const connectDevice = () => stack.connectDevice(device);
  const connectApp = (user: string, token: string) => stack.connectApp(user, token);
  const online = async () =>
    ((await (await internal('GET', '/devices/D1')).json()) as { online: boolean }).online;

  it("delivers the device's state to its owner and refuses a stranger", async () => {
    const d1 = await connectDevice();
    const alice = await connectApp('alice', 'alice-token');
    expect((await alice.subscribeAsync('devices/D1/state', { qos: 1 })).map((g) => g.qos)).toEqual([1]);
    const received = new Promise<string>((resolve) =>
      alice.once('message', (_t, p) => resolve(p.toString())),
    );
    await d1.publishAsync('devices/D1/state', '{"program":"wool","temperature":30}', {
      qos: 1,
      retain: true,
    });
    expect(await received).toBe('{"program":"wool","temperature":30}');

    const bob = await connectApp('bob', 'bob-token');
    await expect(bob.subscribeAsync('devices/D1/state', { qos: 1 })).rejects.toMatchObject({
      packet: { granted: [128] },
    });
  });

  it("ends a technician's live session when the grant is withdrawn, and when it expires", async () => {
    const grant = (id: string, expiresAt: Date) =>
      internal('PUT', `/grants/${id}`, {
        technicianId: 'tech',
        deviceId: 'D1',
        scope: 'read',
        expiresAt: expiresAt.toISOString(),
      });
    expect((await grant('g1', new Date(Date.now() + 3600_000))).status).toBe(204);
    const tech = await connectApp('tech', 'tech-token');
    expect((await tech.subscribeAsync('devices/D1/state', { qos: 1 })).map((g) => g.qos)).toEqual([1]);
    const withdrawn = new Promise<void>((resolve) => tech.once('close', () => resolve()));
    expect((await internal('DELETE', '/grants/g1')).status).toBe(204);
    await withdrawn;
    const again = await connectApp('tech', 'tech-token');
    await expect(again.subscribeAsync('devices/D1/state', { qos: 1 })).rejects.toMatchObject({
      packet: { granted: [128] },
    });

    // No write announces an expiry: cert-service notices it and tells the broker.
    expect((await grant('g2', new Date(Date.now() + 1500))).status).toBe(204);
    const shortLived = await connectApp('tech', 'tech-token');
    expect((await shortLived.subscribeAsync('devices/D1/state', { qos: 1 })).map((g) => g.qos)).toEqual([1]);
    await new Promise<void>((resolve) => shortLived.once('close', () => resolve()));
  });

  it("ends a service's live subscription when its credential loses the permission it rests on", async () => {
    const secret = 'narrowed-service-secret-0123456789';
    const register = (permissions: string[]) =>
      internal('PUT', '/services/ingest-2', { secret, permissions });
    expect((await register(['ingest', 'ota'])).status).toBe(204);
    const service = await connectApp('ingest-2', secret);
    expect((await service.subscribeAsync('devices/+/events', { qos: 1 })).map((g) => g.qos)).toEqual([1]);
    const ended = new Promise<void>((resolve) => service.once('close', () => resolve()));
    expect((await register(['ota'])).status).toBe(204);
    await ended;
    const again = await connectApp('ingest-2', secret);
    await expect(again.subscribeAsync('devices/+/events', { qos: 1 })).rejects.toMatchObject({
      packet: { granted: [128] },
    });
    await again.endAsync();
  });

  it('refuses a device identity without its certificate: its id and MQTT password over WSS', async () => {
    await expect(stack.connectApp('D1', device.mqttPassword, { clientId: 'D1' })).rejects.toMatchObject({
      code: 5,
    });
  });

  it('shows a connected device online at cert-service, and offline once it disconnects', async () => {
    const d1 = await connectDevice();
    await eventually(online, 'D1 online at cert-service');
    await d1.endAsync();
    await eventually(async () => !(await online()), 'D1 offline at cert-service');
  });

  it('ends the live session of a device within a second of its certificate being revoked', async () => {
    const d1 = await connectDevice();
    const closed = new Promise<number>((resolve) => d1.once('close', () => resolve(performance.now())));
    const revokedAt = performance.now();
    const res = await internal('POST', '/devices/D1/certificates/revoke', { reason: 'stolen' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { revoked: string[] }).revoked).toHaveLength(1);
    // The broker re-reads the CRL only daily here, so only cert-service's push can end the session.
    expect((await closed) - revokedAt).toBeLessThan(1000);
    await expect(connectDevice()).rejects.toThrow();
    // The record stays active: without its certificate the device is refused all the same.
    expect(((await (await internal('GET', '/devices/D1')).json()) as { status: string }).status).toBe(
      'active',
    );
    await expect(stack.connectApp('D1', device.mqttPassword, { clientId: 'D1' })).rejects.toMatchObject({
      code: 5,
    });
  });
});
