import { randomBytes, webcrypto } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { x509 } from '../../src/pki/x509.js';

type KeyPair = webcrypto.CryptoKeyPair;
const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface VaultCall {
  method: string;
  path: string;
  token: string | undefined;
  body: Record<string, unknown>;
}

/**
 * A stand-in for Vault's PKI secrets engine and Kubernetes login, from ../shared/reference/vault-pki.md:
 * /v1 prefix, X-Vault-Token, the response envelope with the payload under `data`, errors as
 * {"errors":[…]}, colon-separated serials, integer `expiration`. Roles behave per their flags:
 * use_csr_common_name (default true in Vault) and server_flag (default true).
 */
export class VaultServer {
  readonly calls: VaultCall[] = [];
  readonly revoked = new Map<string, Date>();
  role = { useCsrCommonName: false, serverFlag: false };
  /** When set, pki/revoke answers with it, as Vault does when sealed or its storage is down. */
  revokeFailure: { status: number; errors: string[] } | undefined;
  readonly tokens = new Set<string>(['root-token-for-tests']);
  private server: Server | undefined;
  private ca!: { certificate: x509.X509Certificate; keys: KeyPair };

  async start(): Promise<string> {
    const keys = (await webcrypto.subtle.generateKey(EC_P256, false, ['sign', 'verify'])) as KeyPair;
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=Vault test root',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 10 * 365 * 86_400_000),
      keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
      signingAlgorithm: SIGNING,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
    });
    this.ca = { certificate, keys };
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
        this.route(req, body).then(
          ([status, payload]) => send(res, status, payload),
          (err: Error) => send(res, 500, { errors: [err.message] }),
        );
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  caPem(): string {
    return this.ca.certificate.toString('pem');
  }

  private async route(req: IncomingMessage, body: Record<string, unknown>): Promise<[number, unknown]> {
    const path = req.url ?? '';
    const token = req.headers['x-vault-token'] as string | undefined;
    this.calls.push({ method: req.method ?? '', path, token, body });
    if (req.method === 'POST' && path === '/v1/auth/kubernetes/login') {
      if (body.role !== 'cert-service' || body.jwt !== 'service-account-jwt')
        return [400, { errors: ['invalid role or jwt'] }];
      const clientToken = `k8s-${randomBytes(8).toString('hex')}`;
      this.tokens.add(clientToken);
      return [
        200,
        envelope(null, {
          client_token: clientToken,
          policies: ['pki-device'],
          lease_duration: 3600,
          renewable: true,
        }),
      ];
    }
    if (token === undefined || !this.tokens.has(token)) return [403, { errors: ['permission denied'] }];
    if (req.method === 'POST' && path === '/v1/pki/sign/device') return this.sign(body, false);
    if (req.method === 'POST' && path === '/v1/pki/issue/device') return this.sign(body, true);
    if (req.method === 'POST' && path === '/v1/pki/revoke') {
      if (this.revokeFailure) return [this.revokeFailure.status, { errors: this.revokeFailure.errors }];
      const serial = String(body.serial_number ?? '');
      if (!/^([0-9a-f]{2}[:-])*[0-9a-f]{2}$/.test(serial))
        return [400, { errors: ['invalid serial number'] }];
      const now = new Date();
      this.revoked.set(serial.replace(/[:-]/g, ''), now);
      return [
        200,
        envelope({
          revocation_time: Math.floor(now.getTime() / 1000),
          revocation_time_rfc3339: now.toISOString(),
          state: 'revoked',
        }),
      ];
    }
    if (req.method === 'GET' && path === '/v1/pki/cert/ca_chain')
      return [200, envelope({ certificate: this.caPem(), ca_chain: [this.caPem()] })];
    if (req.method === 'GET' && path === '/v1/pki/cert/crl') {
      const crl = await x509.X509CrlGenerator.create({
        issuer: this.ca.certificate.subjectName,
        thisUpdate: new Date(),
        nextUpdate: new Date(Date.now() + 72 * 3_600_000),
        entries: [...this.revoked].map(([serialNumber, revocationDate]) => ({
          serialNumber,
          revocationDate,
        })),
        signingAlgorithm: SIGNING,
        signingKey: this.ca.keys.privateKey as unknown as x509.X509CrlCreateParams['signingKey'],
      });
      const pem = `-----BEGIN X509 CRL-----\n${Buffer.from(crl.rawData).toString('base64')}\n-----END X509 CRL-----\n`;
      return [200, envelope({ certificate: pem, revocation_time: 0, revocation_time_rfc3339: '' })];
    }
    return [404, { errors: [] }];
  }

  private async sign(body: Record<string, unknown>, generateKey: boolean): Promise<[number, unknown]> {
    let publicKey: x509.PublicKey;
    let csrName: string | undefined;
    let privateKey: string | undefined;
    if (generateKey) {
      const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as KeyPair;
      publicKey = new x509.PublicKey(await webcrypto.subtle.exportKey('spki', keys.publicKey));
      const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString(
        'base64',
      );
      privateKey = `-----BEGIN PRIVATE KEY-----\n${pkcs8}\n-----END PRIVATE KEY-----\n`;
    } else {
      const csr = new x509.Pkcs10CertificateRequest(String(body.csr));
      if (!(await csr.verify())) return [400, { errors: ['CSR signature invalid'] }];
      publicKey = csr.publicKey;
      csrName = csr.subjectName.getField('CN')[0];
    }
    const commonName = !generateKey && this.role.useCsrCommonName ? csrName : String(body.common_name ?? '');
    const hours = Number(/^(\d+)h$/.exec(String(body.ttl))?.[1] ?? 72);
    const serial = randomBytes(20);
    serial[0] = ((serial[0] ?? 1) & 0x7f) | 0x01;
    const notBefore = new Date(Date.now() - 30_000);
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serial.toString('hex'),
      subject: new x509.Name([{ CN: [commonName ?? ''] }]),
      issuer: this.ca.certificate.subjectName,
      notBefore,
      notAfter: new Date(notBefore.getTime() + hours * 3_600_000),
      publicKey,
      signingKey: this.ca.keys.privateKey as unknown as x509.X509CrlCreateParams['signingKey'],
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.ExtendedKeyUsageExtension(
          this.role.serverFlag
            ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]
            : [x509.ExtendedKeyUsage.clientAuth],
        ),
      ],
    });
    const data: Record<string, unknown> = {
      expiration: Math.floor(certificate.notAfter.getTime() / 1000),
      certificate: certificate.toString('pem'),
      issuing_ca: this.caPem(),
      ca_chain: [this.caPem()],
      serial_number: serial.toString('hex').match(/../g)?.join(':'),
    };
    if (privateKey !== undefined) Object.assign(data, { private_key: privateKey, private_key_type: 'ec' });
    return [200, envelope(data)];
  }
}

function envelope(data: unknown, auth: unknown = null) {
  return {
    request_id: randomBytes(8).toString('hex'),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth,
    mount_type: 'pki',
  };
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
}
