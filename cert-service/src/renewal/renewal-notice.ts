/** What a device reads on `devices/{id}/ota` when it should re-enrol by CSR (docs/protocol.md). */
export interface RenewalNotice {
  type: 'certificate.renew';
  notAfter: string;
  enrolUrl: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** A notice when the certificate ends within `noticeDays` of `now`; none when it lasts longer. */
export function renewalNoticeFor(
  certificate: { notAfter: Date } | null,
  options: { now: Date; noticeDays: number; enrolUrl: string },
): RenewalNotice | undefined {
  if (certificate === null) return undefined;
  const left = certificate.notAfter.getTime() - options.now.getTime();
  if (left <= 0 || left >= options.noticeDays * DAY_MS) return undefined;
  return {
    type: 'certificate.renew',
    notAfter: certificate.notAfter.toISOString(),
    enrolUrl: options.enrolUrl,
  };
}

/**
 * The device whose SUBSCRIBE was granted its own ota topic, if any. Only that device may be
 * granted it, and on_subscribe reports refused topics with a QoS above 2 (128, or an MQTT 5
 * reason code), so a granted `devices/<username>/ota` under the username's own client id is the
 * device itself.
 */
export function otaSubscriber(request: {
  mountpoint: string;
  username: string | null;
  client_id: string;
  topics: { topic: string; qos: number }[];
}): string | undefined {
  const { username } = request;
  if (request.mountpoint !== '' || username === null || request.client_id !== username) return undefined;
  const granted = request.topics.some(({ topic, qos }) => topic === `devices/${username}/ota` && qos <= 2);
  return granted ? username : undefined;
}
