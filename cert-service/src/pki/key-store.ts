import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Keeps the local CA's private key encrypted at rest with AES-256-GCM. The key-encryption key
 * comes from configuration or, in the embedded default, from a key file created with 0600
 * permissions beside the CA, so a copied data directory without that file is useless.
 */
export class EncryptedKeyStore {
  constructor(
    private readonly dir: string,
    private readonly configuredKey: string | undefined,
  ) {}

  async save(name: string, secret: Uint8Array): Promise<void> {
    const key = await this.encryptionKey();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(name));
    const data = Buffer.concat([cipher.update(secret), cipher.final()]);
    const sealed = {
      v: 1,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
    await writeFile(join(this.dir, `${name}.enc`), JSON.stringify(sealed), { mode: 0o600 });
  }

  /** The decrypted secret, or undefined when none was saved yet. A wrong key is an error, never a new CA. */
  async load(name: string): Promise<Buffer | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.dir, `${name}.enc`), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const sealed = JSON.parse(text) as { iv: string; tag: string; data: string };
    const decipher = createDecipheriv(
      'aes-256-gcm',
      await this.encryptionKey(),
      Buffer.from(sealed.iv, 'base64'),
    );
    decipher.setAAD(Buffer.from(name));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]);
    } catch {
      throw new Error(`cannot decrypt ${name}: the key-encryption key does not match`);
    }
  }

  private async encryptionKey(): Promise<Buffer> {
    if (this.configuredKey !== undefined) {
      const key = Buffer.from(this.configuredKey, 'base64');
      if (key.length !== 32) throw new Error('CA_KEY_ENCRYPTION_KEY must be the base64 of exactly 32 bytes');
      return key;
    }
    const file = join(this.dir, 'ca-key-encryption.key');
    try {
      const key = Buffer.from(await readFile(file, 'utf8'), 'base64');
      if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte key`);
      return key;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const key = randomBytes(32);
    await writeFile(file, key.toString('base64'), { mode: 0o600, flag: 'wx' });
    await chmod(file, 0o600);
    return key;
  }
}
