import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** An image written to disk but not yet accepted: its digest is known, its signature not yet checked. */
export interface StagedImage {
  path: string;
  sizeBytes: number;
  sha256: Buffer;
}

export class ImageTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`firmware image exceeds ${maxBytes} bytes`);
  }
}

/**
 * Firmware images on disk, one file per accepted image. An upload is streamed to a staging file
 * while it is hashed, so an image is never held in memory and an oversized one is cut off as soon
 * as it passes the limit; only an accepted image is moved to its final name.
 */
export class FirmwareStore {
  constructor(private readonly dir: string) {}

  async stage(body: Readable, maxBytes: number): Promise<StagedImage> {
    await mkdir(join(this.dir, 'staging'), { recursive: true, mode: 0o700 });
    const path = join(this.dir, 'staging', `${randomUUID()}.part`);
    const hash = createHash('sha256');
    let sizeBytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        sizeBytes += chunk.length;
        if (sizeBytes > maxBytes) {
          done(new ImageTooLarge(maxBytes));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, createWriteStream(path, { mode: 0o600 }));
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
    return { path, sizeBytes, sha256: hash.digest() };
  }

  async discard(image: StagedImage): Promise<void> {
    await rm(image.path, { force: true });
  }

  async accept(image: StagedImage, firmwareId: string): Promise<void> {
    await rename(image.path, this.pathOf(firmwareId));
  }

  async remove(firmwareId: string): Promise<void> {
    await rm(this.pathOf(firmwareId), { force: true });
  }

  /** The stored size, or null when the image's file is missing (a volume lost, a restore gone wrong). */
  async size(firmwareId: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(firmwareId))).size;
    } catch {
      return null;
    }
  }

  read(firmwareId: string, range?: { start: number; end: number }): ReadStream {
    return createReadStream(this.pathOf(firmwareId), range);
  }

  private pathOf(firmwareId: string): string {
    // Ids are made here (UUIDs), never taken from a request, so they are safe as file names.
    return join(this.dir, `${firmwareId}.bin`);
  }
}
