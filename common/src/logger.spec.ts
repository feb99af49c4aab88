import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ service: 'test', level: 'info', destination }) };
}

describe('logger redaction', () => {
  it.each([
    ['authorization header', { req: { headers: { authorization: 'Bearer abc.def' } } }],
    ['cookie header', { req: { headers: { cookie: 'session=abc.def' } } }],
    ['set-cookie header', { res: { headers: { 'set-cookie': 'session=abc.def' } } }],
    ['password in a body', { body: { email: 'a@b.c', password: 'abc.def' } }],
    ['access token', { access_token: 'abc.def' }],
    ['refresh token deep down', { a: { b: { refresh_token: 'abc.def' } } }],
    ['private key', { pki: { privateKey: 'abc.def' } }],
    ['claim code', { claim: { claimCode: 'abc.def' } }],
    ['enrolment secret', { enrolmentSecret: 'abc.def' }],
    ['MQTT password', { device: { mqttPassword: 'abc.def' } }],
  ])('removes the %s', (_what, fields) => {
    const { lines, logger } = capture();
    logger.info(fields, 'something happened');
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain('abc.def');
    expect(text).toContain('[redacted]');
  });

  it('keeps ordinary fields', () => {
    const { lines, logger } = capture();
    logger.info({ deviceId: 'dev-1', route: '/health' }, 'ok');
    expect(lines[0]).toMatchObject({ deviceId: 'dev-1', route: '/health', service: 'test', level: 'info' });
  });
});
