import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_ENROLMENT_URL, startStack, type Stack } from './stack.js';

/**
 * A device whose certificate has less than 30 days left is told so when it subscribes to its ota
 * topic, and re-enrols by CSR. cert-service here issues 20-day certificates, which only an embedding
 * test can ask for.
 */
describe('certificate renewal notice through the real broker and cert-service', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ deviceCertificateDays: 20 });
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('tells a device on its ota topic, at QoS 1, when its certificate ends and where to re-enrol', async () => {
    const device = await stack.enrolDevice('D1', 'alice');
    const d1 = await stack.connectDevice(device);
    const notice = new Promise<{ topic: string; qos: number; message: unknown }>((resolve) =>
      d1.once('message', (topic, payload, packet) =>
        resolve({ topic, qos: packet.qos, message: JSON.parse(payload.toString()) }),
      ),
    );
    await d1.subscribeAsync(['devices/D1/commands', 'devices/D1/ota'], { qos: 1 });
    expect(await notice).toEqual({
      topic: 'devices/D1/ota',
      qos: 1,
      message: { type: 'certificate.renew', notAfter: device.notAfter, enrolUrl: PUBLIC_ENROLMENT_URL },
    });

    const renewed = await stack.renew(device);
    await d1.endAsync();
    const again = await stack.connectDevice(renewed);
    expect(again.connected).toBe(true);
    const previous = await stack.internal('GET', `/certificates/${device.serial}`);
    expect(await previous.json()).toMatchObject({ status: 'revoked', revocationReason: 'superseded' });
  });
});
