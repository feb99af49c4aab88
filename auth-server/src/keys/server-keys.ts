import { generateKeyPair, randomBytes, randomUUID, type JsonWebKey } from 'node:crypto';
import { promisify } from 'node:util';

const generateRsaKeyPair = promisify(generateKeyPair);
import type { DataSource } from 'typeorm';

/**
 * Signing keys and cookie keys live in auth-server's own database, created once on first start.
 * Keeping them across restarts is what keeps issued ID tokens verifiable and browser sessions
 * valid; the database is private to auth-server (its own role, no other service reads it).
 */
export class ServerKeys {
  constructor(private readonly dataSource: DataSource) {}

  /** The RS256 signing key set (private JWKs), generated on first use. */
  async signingKeys(): Promise<JsonWebKey[]> {
    return this.getOrCreate('signing', async () => {
      // Off the event loop: RSA generation takes a noticeable while.
      const { privateKey } = await generateRsaKeyPair('rsa', { modulusLength: 2048 });
      return [{ ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' }];
    });
  }

  /** Keys for oidc-provider's signed cookies: the configured ones, else generated and stored. */
  async cookieKeys(configured: string | undefined): Promise<string[]> {
    if (configured) return configured.split(',').filter((k) => k.length > 0);
    return this.getOrCreate('cookie', () => [randomBytes(32).toString('base64url')]);
  }

  private async getOrCreate<T>(purpose: string, create: () => T | Promise<T>): Promise<T> {
    const stored = await this.read<T>(purpose);
    if (stored !== undefined) return stored;
    // ON CONFLICT DO NOTHING: two replicas starting together keep whichever key was stored first.
    await this.dataSource.query(
      'INSERT INTO server_keys (purpose, material) VALUES ($1, $2) ON CONFLICT (purpose) DO NOTHING',
      [purpose, JSON.stringify(await create())],
    );
    const created = await this.read<T>(purpose);
    if (created === undefined) throw new Error(`server key ${purpose} could not be stored`);
    return created;
  }

  private async read<T>(purpose: string): Promise<T | undefined> {
    const rows: { material: T }[] = await this.dataSource.query(
      'SELECT material FROM server_keys WHERE purpose = $1',
      [purpose],
    );
    return rows[0]?.material;
  }
}
