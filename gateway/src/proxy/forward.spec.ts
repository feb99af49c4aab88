import { describe, expect, it } from 'vitest';
import { downstreamHeaders, upstreamHeaders, upstreamUrl } from './forward.js';

describe('upstream URL', () => {
  it.each([
    ['http://svc:3000', undefined, '/devices/d1', '', 'http://svc:3000/devices/d1'],
    ['http://svc:3000/base', undefined, '/devices', '?a=1', 'http://svc:3000/base/devices?a=1'],
    ['http://svc:3000/', '/api', '/api/devices', '', 'http://svc:3000/devices'],
    ['https://mybackend.com/api', '/api', '/api', '', 'https://mybackend.com/api/'],
    ['http://svc:3000', '/api', '/other/api', '', 'http://svc:3000/other/api'],
    ['http://svc:3000', undefined, '/a b/ü', '', 'http://svc:3000/a%20b/%C3%BC'],
  ])('%s with strip_path %s and %s%s → %s', (upstream, strip, path, search, expected) => {
    expect(upstreamUrl(new URL(upstream), strip, path, search).toString()).toBe(expected);
  });
});

const options = {
  forwardCredentials: false,
  host: 'svc:3000',
  mutated: { authorization: 'Bearer gateway-jwt', 'x-user-id': 'real-user' },
  forwardedFor: '203.0.113.9',
  forwardedProto: 'https',
  forwardedHost: 'api.example.com',
  requestId: 'req-1',
};

describe('upstream headers', () => {
  const incoming = {
    host: 'api.example.com',
    authorization: 'Bearer client-token',
    'x-user-id': 'forged',
    'x-user-roles': 'admin',
    'x-forwarded-for': '1.2.3.4',
    'x-real-ip': '1.2.3.4',
    forwarded: 'for=1.2.3.4',
    connection: 'keep-alive, x-secret-hop',
    'x-secret-hop': 'x',
    'keep-alive': 'timeout=5',
    te: 'trailers',
    'proxy-authorization': 'Basic abc',
    'content-type': 'application/json',
    'x-request-id': 'client-chosen',
  };

  it('drops hop-by-hop, forwarding and client identity headers, then applies the mutators', () => {
    expect(upstreamHeaders(incoming, options)).toEqual({
      'content-type': 'application/json',
      authorization: 'Bearer gateway-jwt',
      'x-user-id': 'real-user',
      host: 'svc:3000',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'api.example.com',
      'x-request-id': 'req-1',
    });
  });

  it('forwards the client Authorization only when the rule leaves credentials untouched', () => {
    const passthrough = upstreamHeaders(incoming, { ...options, forwardCredentials: true, mutated: {} });
    expect(passthrough.authorization).toBe('Bearer client-token');
    const consumed = upstreamHeaders(incoming, { ...options, mutated: {} });
    expect(consumed.authorization).toBeUndefined();
  });

  it('strips banners and hop-by-hop headers from the answer', () => {
    expect(
      downstreamHeaders({
        server: 'nginx/1.2',
        'x-powered-by': 'Express',
        connection: 'close',
        'transfer-encoding': 'chunked',
        'content-type': 'text/plain',
      }),
    ).toEqual({ 'content-type': 'text/plain' });
  });
});
