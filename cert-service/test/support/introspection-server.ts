import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface IssuedToken {
  sub: string;
  /** Seconds since the epoch, as in RFC 7662 and Hydra's introspectedOAuth2Token. */
  exp: number;
  tokenUse?: 'access_token' | 'refresh_token';
}

/**
 * A stand-in for Hydra's admin introspection endpoint (POST /admin/oauth2/introspect,
 * application/x-www-form-urlencoded `token`, JSON introspectedOAuth2Token), built from
 * ../shared/reference/hydra/spec.api.json. Like Hydra, it calls an expired token inactive.
 */
export class IntrospectionServer {
  readonly tokens = new Map<string, IssuedToken>();
  calls = 0;
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/admin/oauth2/introspect') {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
          return;
        }
        if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_request"}');
          return;
        }
        this.calls++;
        const token = new URLSearchParams(Buffer.concat(chunks).toString()).get('token') ?? '';
        const issued = this.tokens.get(token);
        const active = issued !== undefined && issued.exp > Date.now() / 1000;
        const body =
          active && issued
            ? {
                active: true,
                sub: issued.sub,
                exp: issued.exp,
                iat: issued.exp - 3600,
                client_id: 'mobile-app',
                scope: 'openid offline_access',
                token_type: 'Bearer',
                token_use: issued.tokenUse ?? 'access_token',
                iss: 'http://127.0.0.1/',
              }
            : { active: false };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/admin/oauth2/introspect`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
