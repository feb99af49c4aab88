import { describe, expect, it } from 'vitest';
import type { FastifyRequest } from 'fastify';
import { parseConfig } from '@spincycle/common';
import { config } from '../config.js';
import { PageResponder } from './page-responder.js';

function responder(env: Record<string, string> = {}): PageResponder {
  return new PageResponder(parseConfig(config, env));
}

function request(ip: string, headers: Record<string, string | string[]> = {}): FastifyRequest {
  return { ip, headers } as unknown as FastifyRequest;
}

describe('PageResponder.clientAddress', () => {
  it.each<[string, Record<string, string>, Record<string, string | string[]>, string]>([
    ['the peer without a configured header', {}, { 'x-forwarded-for': '203.0.113.9' }, '10.0.0.1'],
    [
      'the last entry of the configured header',
      { CLIENT_ADDRESS_HEADER: 'X-Forwarded-For' },
      { 'x-forwarded-for': '198.51.100.7, 203.0.113.9' },
      '203.0.113.9',
    ],
    [
      'the last of repeated headers',
      { CLIENT_ADDRESS_HEADER: 'x-real-ip' },
      { 'x-real-ip': ['1.1.1.1', '2.2.2.2'] },
      '2.2.2.2',
    ],
    [
      'the peer when the configured header is missing',
      { CLIENT_ADDRESS_HEADER: 'x-forwarded-for' },
      {},
      '10.0.0.1',
    ],
  ])('uses %s', (_label, env, headers, expected) => {
    expect(responder(env).clientAddress(request('10.0.0.1', headers))).toBe(expected);
  });
});

describe('PageResponder configuration', () => {
  it('refuses extra form-action sources that would break out of the directive', () => {
    expect(() =>
      responder({ CSP_FORM_ACTION_EXTRA: "app.spincycle.mobile:; script-src 'unsafe-inline'" }),
    ).toThrow(/CSP_FORM_ACTION_EXTRA/);
  });
});
