import { readFileSync } from 'node:fs';
import { parseConfig } from '@spincycle/common';
import { describe, expect, it } from 'vitest';
import { config } from '../src/config.js';

/**
 * infra/vernemq/vernemq.conf is the production stand-in for this broker: cert-service must be
 * asked, and told, the same things by either, or decisions and device state diverge.
 */
const settings = new Map(
  readFileSync(new URL('../../infra/vernemq/vernemq.conf', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.split('=').map((part) => part.trim()) as [string, string]),
);
const ENDPOINT = 'http://CERT_SERVICE:3030/webhooks/vernemq';

describe('VerneMQ configuration (infra/vernemq/vernemq.conf)', () => {
  it('requires a device certificate, names the device by its CN and forwards the certificate to the hooks', () => {
    expect({
      require_certificate: settings.get('listener.ssl.devices.require_certificate'),
      use_identity_as_username: settings.get('listener.ssl.devices.use_identity_as_username'),
      forward_connection_opts: settings.get('listener.ssl.devices.forward_connection_opts'),
    }).toEqual({ require_certificate: 'on', use_identity_as_username: 'on', forward_connection_opts: 'on' });
  });

  it('sends cert-service every hook broker/ sends, and their MQTT 5 variants', () => {
    const registered = [...settings]
      .filter(([key]) => /^vmq_webhooks\.[^.]+\.hook$/.test(key))
      .map(([key, hook]) => ({ hook, endpoint: settings.get(key.replace(/\.hook$/, '.endpoint')) }));
    const sent = ['auth_on_register', 'auth_on_publish', 'auth_on_subscribe', 'on_register', 'on_subscribe'];
    const expected = [...sent, ...sent.map((hook) => `${hook}_m5`), 'on_client_offline', 'on_client_gone'];
    expect(registered.map((r) => r.hook).sort()).toEqual(expected.sort());
    expect(new Set(registered.map((r) => r.endpoint))).toEqual(new Set([ENDPOINT]));
  });

  it("bounds message size as broker/'s default does", () => {
    expect(Number(settings.get('max_message_size'))).toBe(parseConfig(config, {}).MAX_PACKET_BYTES);
  });
});
