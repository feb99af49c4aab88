import { readFile } from 'node:fs/promises';
import { x509 } from './x509.js';
import NodeVault from 'node-vault';
import { z } from 'zod';
import {
  colonSerial,
  normalizeSerial,
  type IssuedKeyPair,
  type PkiBackend,
  type SignedCertificate,
  type SignRequest,
} from './pki-backend.js';
import { commonNameOf, isClientAuthOnly } from './x509-util.js';

export interface VaultPkiOptions {
  endpoint: string;
  mount: string;
  role: string;
  auth:
    | { method: 'token'; token: string }
    | { method: 'kubernetes'; role: string; mount: string; jwtPath: string };
  /** axios options for every call (timeouts, TLS trust). */
  requestOptions?: Record<string, unknown>;
}

// Vault's response builder (path_issue_sign.go) writes `expiration` as an integer; its docs show a string.
const signedData = z.object({
  certificate: z.string(),
  issuing_ca: z.string(),
  ca_chain: z.array(z.string()).optional(),
  serial_number: z.string(),
  expiration: z.union([z.number(), z.string()]),
});
const envelope = <T extends z.ZodType>(data: T) => z.object({ data });

/**
 * Vault's PKI secrets engine through node-vault. Vault signs; cert-service still checks what came
 * back, because a role with use_csr_common_name or server_flag left on would otherwise hand a
 * device a certificate for another name or usage.
 */
export class VaultPki implements PkiBackend {
  readonly name = 'vault';

  private constructor(
    private readonly client: NodeVault.client,
    private readonly options: VaultPkiOptions,
  ) {}

  static async connect(options: VaultPkiOptions): Promise<VaultPki> {
    const client = NodeVault({
      apiVersion: 'v1',
      endpoint: options.endpoint,
      requestOptions: options.requestOptions ?? { timeout: 10_000 },
      ...(options.auth.method === 'token' ? { token: options.auth.token } : {}),
    });
    const pki = new VaultPki(client, options);
    await pki.login();
    return pki;
  }

  /** Kubernetes auth: trades the service-account token for a Vault token (node-vault keeps it). */
  private async login(): Promise<void> {
    const auth = this.options.auth;
    if (auth.method !== 'kubernetes') return;
    const jwt = (await readFile(auth.jwtPath, 'utf8')).trim();
    // node-vault renders the login path from the call's own mount_point only (see vault-pki.md).
    await this.client.kubernetesLogin({ role: auth.role, jwt, mount_point: auth.mount });
  }

  /**
   * A Kubernetes-auth token expires with its TTL; a 403 then means "log in again", once. With
   * token auth the token is the operator's to keep alive, and a 403 stands.
   */
  private async call<T>(request: (client: NodeVault.client) => Promise<T>): Promise<T> {
    try {
      return await request(this.client);
    } catch (err) {
      const status = (err as { response?: { statusCode?: number } }).response?.statusCode;
      if (status !== 403 || this.options.auth.method !== 'kubernetes') throw err;
      await this.login();
      return request(this.client);
    }
  }

  async signCsr(request: SignRequest): Promise<SignedCertificate> {
    const response: unknown = await this.call((vault) =>
      vault.write(`${this.options.mount}/sign/${this.options.role}`, {
        csr: request.csrPem,
        common_name: request.deviceId,
        ttl: `${request.validityDays * 24}h`,
        format: 'pem',
        exclude_cn_from_sans: true,
      }),
    );
    return this.checked(request.deviceId, envelope(signedData).parse(response).data);
  }

  async issueWithKey(request: { deviceId: string; validityDays: number }): Promise<IssuedKeyPair> {
    const response: unknown = await this.call((vault) =>
      vault.write(`${this.options.mount}/issue/${this.options.role}`, {
        common_name: request.deviceId,
        ttl: `${request.validityDays * 24}h`,
        format: 'pem',
        private_key_format: 'pkcs8',
        exclude_cn_from_sans: true,
      }),
    );
    const { data } = envelope(signedData.extend({ private_key: z.string() })).parse(response);
    return { ...(await this.checked(request.deviceId, data)), privateKeyPem: data.private_key };
  }

  async revoke(serial: string): Promise<void> {
    await this.call((vault) =>
      vault.write(`${this.options.mount}/revoke`, { serial_number: colonSerial(serial) }),
    );
  }

  async caChainPem(): Promise<string[]> {
    const response: unknown = await this.call((vault) => vault.read(`${this.options.mount}/cert/ca_chain`));
    const { data } = envelope(z.object({ certificate: z.string() })).parse(response);
    return splitPem(data.certificate);
  }

  async crlPem(): Promise<string> {
    // pki/crl is raw DER, which node-vault would decode as text; the JSON form carries the PEM.
    const response: unknown = await this.call((vault) => vault.read(`${this.options.mount}/cert/crl`));
    return envelope(z.object({ certificate: z.string() })).parse(response).data.certificate;
  }

  private async checked(deviceId: string, data: z.infer<typeof signedData>): Promise<SignedCertificate> {
    const certificate = new x509.X509Certificate(data.certificate);
    if (commonNameOf(certificate) !== deviceId || !isClientAuthOnly(certificate)) {
      await this.revoke(normalizeSerial(data.serial_number));
      throw new Error(
        `Vault role ${this.options.role} issued a certificate with another subject or usage; check use_csr_common_name=false, server_flag=false`,
      );
    }
    return {
      certificatePem: certificate.toString('pem'),
      chainPem: data.ca_chain && data.ca_chain.length > 0 ? data.ca_chain : [data.issuing_ca],
      serial: normalizeSerial(data.serial_number),
      notBefore: certificate.notBefore,
      notAfter: certificate.notAfter,
    };
  }
}

function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}
