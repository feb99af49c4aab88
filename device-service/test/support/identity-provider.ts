import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';

export const ISSUER = 'http://gateway.test/';
export const AUDIENCE = 'device-service';

export interface TokenOptions {
  scopes?: string[];
  roles?: string[];
  audience?: string;
  issuer?: string;
  expiresInSeconds?: number;
  /** Sign with a key the JWKS does not publish. */
  foreignKey?: boolean;
}

/**
 * Stands in for the access proxy's id_token mutator: an ES256 key published on a JWKS endpoint,
 * and tokens with the claims the proxy's rules write (aud, iss, sub, scope, roles).
 */
export class IdentityProvider {
  private constructor(
    private readonly server: Server,
    readonly jwksUrl: string,
    private readonly key: CryptoKey,
    private readonly foreignKey: CryptoKey,
  ) {}

  static async start(): Promise<IdentityProvider> {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const foreign = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'ES256', use: 'sig' };
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new IdentityProvider(
      server,
      `http://127.0.0.1:${port}/.well-known/jwks.json`,
      privateKey,
      foreign.privateKey,
    );
  }

  token(subject: string, options: TokenOptions = {}): Promise<string> {
    return new SignJWT({ scope: (options.scopes ?? []).join(' '), roles: options.roles ?? ['homeowner'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'test-key' })
      .setSubject(subject)
      .setIssuer(options.issuer ?? ISSUER)
      .setAudience([options.audience ?? AUDIENCE])
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresInSeconds ?? 60))
      .sign(options.foreignKey ? this.foreignKey : this.key);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
