import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Hydra's admin introspection endpoint, built from its API contract
 * (/work/shared/reference/hydra/spec.api.json, `introspectOAuth2Token`, `introspectedOAuth2Token`):
 * POST /admin/oauth2/introspect, form `token` (required) and `scope` (optional, space-separated);
 * unknown, expired or revoked tokens answer 200 `{"active":false}`, as do tokens lacking a scope
 * named in `scope`; a request without `token` is an `errorOAuth2` 400.
 */
export interface IssuedToken {
  sub: string;
  scope: string;
  exp: number;
  iat: number;
  client_id: string;
  aud: string[];
  iss: string;
  token_use: string;
  ext?: Record<string, unknown>;
}

export interface IntrospectionCall {
  token: string;
  scope?: string;
  headers: Record<string, string | string[] | undefined>;
}

export class HydraStandIn {
  readonly issuer = 'http://hydra.test/';
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly revoked = new Set<string>();
  readonly calls: IntrospectionCall[] = [];
  /** When set, every answer is this status with an errorOAuth2 body (outage, rate limit). */
  failWith?: number;
  /** When set, active answers lie about `exp` (a non-conforming server). */
  reportExpAs?: number;
  private server?: Server;
  url = '';

  issue(claims: Partial<IssuedToken> & { sub: string }): string {
    const token = `ory_at_${randomBytes(24).toString('base64url')}`;
    const now = Math.floor(Date.now() / 1000);
    this.tokens.set(token, {
      scope: '',
      exp: now + 900,
      iat: now,
      client_id: 'spincycle-app',
      aud: [],
      iss: this.issuer,
      token_use: 'access_token',
      ...claims,
    });
    return token;
  }

  revoke(token: string): void {
    this.revoked.add(token);
  }

  private answer(token: string, requiredScope: string | undefined): Record<string, unknown> {
    const issued = this.tokens.get(token);
    const now = Math.floor(Date.now() / 1000);
    if (!issued || this.revoked.has(token) || issued.exp <= now) return { active: false };
    const granted = issued.scope.split(' ').filter(Boolean);
    const wanted = (requiredScope ?? '').split(' ').filter(Boolean);
    if (!wanted.every((scope) => granted.includes(scope))) return { active: false };
    return {
      active: true,
      sub: issued.sub,
      ...(issued.scope ? { scope: issued.scope } : {}),
      client_id: issued.client_id,
      exp: this.reportExpAs ?? issued.exp,
      iat: issued.iat,
      nbf: issued.iat,
      aud: issued.aud,
      iss: issued.iss,
      token_type: 'Bearer',
      token_use: issued.token_use,
      ...(issued.ext ? { ext: issued.ext } : {}),
    };
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const send = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (req.method !== 'POST' || req.url !== '/admin/oauth2/introspect') {
          return send(404, { error: 'not_found' });
        }
        if (this.failWith)
          return send(this.failWith, { error: 'server_error', error_description: 'stand-in failure' });
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const token = form.get('token');
        const scope = form.get('scope') ?? undefined;
        this.calls.push({ token: token ?? '', scope, headers: req.headers });
        if (!req.headers['content-type']?.startsWith('application/x-www-form-urlencoded') || !token) {
          return send(400, {
            error: 'invalid_request',
            error_description: 'The request is missing the token.',
          });
        }
        send(200, this.answer(token, scope));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/admin/oauth2/introspect`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
