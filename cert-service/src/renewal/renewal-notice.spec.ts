import { describe, expect, it } from 'vitest';
import { otaSubscriber, renewalNoticeFor } from './renewal-notice.js';

const now = new Date('2026-06-01T12:00:00Z');
const days = (n: number) => new Date(now.getTime() + n * 86_400_000);
const options = { now, noticeDays: 30, enrolUrl: 'https://api.example/v1/pki/enrolments' };

describe('renewalNoticeFor', () => {
  it('tells a device whose certificate ends within the notice period when it ends and where to enrol', () => {
    expect(renewalNoticeFor({ notAfter: days(29) }, options)).toEqual({
      type: 'certificate.renew',
      notAfter: days(29).toISOString(),
      enrolUrl: options.enrolUrl,
    });
  });

  it.each([
    ['a certificate with exactly the notice period left', days(30)],
    ['a certificate with a year left', days(365)],
    ['a certificate already expired', days(-1)],
  ])('sends nothing for %s', (_what, notAfter) => {
    expect(renewalNoticeFor({ notAfter }, options)).toBeUndefined();
  });

  it('sends nothing for a device without a current certificate', () => {
    expect(renewalNoticeFor(null, options)).toBeUndefined();
  });
});

describe('otaSubscriber', () => {
  const request = (fields: Partial<Parameters<typeof otaSubscriber>[0]> = {}) => ({
    mountpoint: '',
    username: 'D1',
    client_id: 'D1',
    topics: [
      { topic: 'devices/D1/commands', qos: 1 },
      { topic: 'devices/D1/ota', qos: 1 },
    ],
    ...fields,
  });

  it('names the device granted its own ota topic', () => {
    expect(otaSubscriber(request())).toBe('D1');
  });

  it.each([
    ['the ota topic was refused (v3)', request({ topics: [{ topic: 'devices/D1/ota', qos: 128 }] })],
    ['the ota topic was refused (MQTT 5)', request({ topics: [{ topic: 'devices/D1/ota', qos: 135 }] })],
    ['only commands were subscribed', request({ topics: [{ topic: 'devices/D1/commands', qos: 1 }] })],
    ["another device's ota topic", request({ topics: [{ topic: 'devices/D2/ota', qos: 1 }] })],
    ['a client id other than the username', request({ client_id: 'D1:x' })],
    ['no username', request({ username: null })],
    ['another mountpoint', request({ mountpoint: 'other' })],
  ])('names nobody when %s', (_what, body) => {
    expect(otaSubscriber(body)).toBeUndefined();
  });
});
