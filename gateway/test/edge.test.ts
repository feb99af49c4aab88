import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type SecureVersion } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type GatewayService } from '../src/app.js';
import type { AccessRule } from '../src/rules/rules.js';
import { call, writeRules } from './support.js';
import { Upstream } from './upstream.js';

const upstream = new Upstream();
let dir: string;
let rulesPath: string;
const running: GatewayService[] = [];

async function gatewayWith(extra: Record<string, string>): Promise<GatewayService> {
  const gateway = await start({
    LOG_LEVEL: 'silent',
    PROXY_PORT: '0',
    API_PORT: '0',
    RULES_PATH: rulesPath,
    ...extra,
  });
  running.push(gateway);
  return gateway;
}

beforeAll(async () => {
  await upstream.start();
  dir = await mkdtemp(join(tmpdir(), 'gateway-edge-'));
  const open: AccessRule = {
    id: 'open',
    match: { url: '<https|http>://<[^/]+>/open', methods: ['GET', 'POST'] },
    authenticators: [{ handler: 'anonymous' }],
    authorizer: { handler: 'allow' },
    mutators: [{ handler: 'noop' }],
    upstream: { url: upstream.url },
  };
  rulesPath = await writeRules(join(dir, 'rules.json'), [open]);
});

afterAll(async () => {
  await Promise.all(running.map((gateway) => gateway.close()));
  await upstream.close();
  await rm(dir, { recursive: true, force: true });
});

describe('CORS', () => {
  it('is closed by default: no CORS header for any origin, and a preflight is just an unmatched request', async () => {
    const gateway = await gatewayWith({});
    const answer = await call(`${gateway.proxyUrl}/open`, { headers: { origin: 'https://app.example.com' } });
    expect(answer.status).toBe(200);
    expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await call(`${gateway.proxyUrl}/open`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(404);
  });

  it('answers listed origins only', async () => {
    const gateway = await gatewayWith({ CORS_ALLOWED_ORIGINS: 'https://app.example.com' });
    const preflight = await call(`${gateway.proxyUrl}/open`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example.com');
    const listed = await call(`${gateway.proxyUrl}/open`, { headers: { origin: 'https://app.example.com' } });
    expect(listed.headers['access-control-allow-origin']).toBe('https://app.example.com');
    const stranger = await call(`${gateway.proxyUrl}/open`, {
      headers: { origin: 'https://evil.example.com' },
    });
    expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('refuses to start with a malformed origin, naming the variable', async () => {
    await expect(gatewayWith({ CORS_ALLOWED_ORIGINS: 'app.example.com' })).rejects.toThrow(
      /CORS_ALLOWED_ORIGINS/,
    );
  });
});

describe('rate limit and client address', () => {
  it('limits each client address and says when to retry', async () => {
    const gateway = await gatewayWith({ RATE_LIMIT_BURST: '2', RATE_LIMIT_PER_MINUTE: '1' });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(`${gateway.proxyUrl}/open`)).status);
    expect(statuses).toEqual([200, 200, 429]);
    const refused = await call(`${gateway.proxyUrl}/open`);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('does not let an untrusted client pick its address with X-Forwarded-For', async () => {
    const gateway = await gatewayWith({ RATE_LIMIT_BURST: '1', RATE_LIMIT_PER_MINUTE: '1' });
    expect(
      (await call(`${gateway.proxyUrl}/open`, { headers: { 'x-forwarded-for': '10.0.0.1' } })).status,
    ).toBe(200);
    expect(
      (await call(`${gateway.proxyUrl}/open`, { headers: { 'x-forwarded-for': '10.0.0.2' } })).status,
    ).toBe(429);
  });

  it('takes the client address from the trusted hop when told to trust it', async () => {
    const gateway = await gatewayWith({
      TRUST_FORWARDED_HEADERS: 'true',
      RATE_LIMIT_BURST: '1',
      RATE_LIMIT_PER_MINUTE: '1',
    });
    const via = (client: string) => ({
      'x-forwarded-for': `6.6.6.6, ${client}`,
      'x-forwarded-proto': 'https',
    });
    expect((await call(`${gateway.proxyUrl}/open`, { headers: via('10.0.0.1') })).status).toBe(200);
    expect(upstream.last().headers['x-forwarded-for']).toBe('6.6.6.6, 10.0.0.1, 127.0.0.1');
    expect(upstream.last().headers['x-forwarded-proto']).toBe('https');
    expect((await call(`${gateway.proxyUrl}/open`, { headers: via('10.0.0.2') })).status).toBe(200);
    expect((await call(`${gateway.proxyUrl}/open`, { headers: via('10.0.0.1') })).status).toBe(429);
  });
});

describe('TLS on the public listener', () => {
  let gateway: GatewayService;
  let port: number;

  beforeAll(async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    gateway = await gatewayWith({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key });
    port = Number(new URL(gateway.proxyUrl).port);
  });

  /** The negotiated protocol and cipher, or the handshake error code. */
  function handshake(options: { minVersion?: SecureVersion; maxVersion?: SecureVersion; ciphers?: string }) {
    return new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
        resolve(`${socket.getProtocol()} ${socket.getCipher().name}`);
        socket.end();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(`refused ${err.code ?? err.message}`));
    });
  }

  it('speaks TLS 1.3 and TLS 1.2 with ECDHE and AEAD ciphers', async () => {
    expect(await handshake({})).toMatch(/^TLSv1\.3 TLS_/);
    expect(await handshake({ maxVersion: 'TLSv1.2' })).toMatch(
      /^TLSv1\.2 ECDHE-RSA-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/,
    );
  });

  it.each([
    ['TLS 1.1', { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' } as const],
    [
      'RSA key exchange without forward secrecy',
      { maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' } as const,
    ],
    ['a CBC cipher', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA256' } as const],
  ])('refuses %s', async (_label, options) => {
    expect(await handshake(options)).toMatch(/^refused/);
  });

  it('sends HSTS and no server banner', async () => {
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = httpsRequest(
        `https://127.0.0.1:${port}/open`,
        { rejectUnauthorized: false, agent: false },
        (res) => {
          res.resume();
          resolve(res.headers);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(headers.server).toBeUndefined();
    expect(headers['x-powered-by']).toBeUndefined();
  });

  it('sends no HSTS over plain HTTP', async () => {
    const plain = await gatewayWith({});
    expect((await call(`${plain.proxyUrl}/open`)).headers['strict-transport-security']).toBeUndefined();
  });
});
