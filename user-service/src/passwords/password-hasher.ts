import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import bcrypt from 'bcrypt';
import type { UserServiceConfig } from '../config.js';
import { USER_CONFIG } from '../tokens.js';

/**
 * bcrypt hashing and checking. The native binding runs each hash on libuv's thread pool, so the
 * event loop keeps serving while a hash takes its ~250 ms at cost 12.
 */
@Injectable()
export class PasswordHasher {
  private readonly cost: number;
  /** Made at start-up, so that even the first unknown-address login costs one comparison only. */
  private readonly dummyHash: Promise<string>;

  constructor(@Inject(USER_CONFIG) config: UserServiceConfig) {
    this.cost = config.BCRYPT_COST;
    this.dummyHash = bcrypt.hash(randomBytes(16).toString('base64url'), this.cost);
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.cost);
  }

  verify(password: string, hash: string): Promise<boolean> {
    return bcrypt.compare(password, hash);
  }

  /**
   * Spends the same time as checking a real account, and always fails: logins for unknown
   * addresses must not answer faster than wrong passwords.
   */
  async verifyNobody(password: string): Promise<false> {
    await bcrypt.compare(password, await this.dummyHash);
    return false;
  }
}
