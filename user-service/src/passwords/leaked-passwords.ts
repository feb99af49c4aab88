import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { LOGGER } from '@spincycle/common/nest';
import type { Logger } from '@spincycle/common';
import { z } from 'zod';
import type { UserServiceConfig } from '../config.js';
import { AccountMetrics } from '../metrics.js';
import { USER_CONFIG } from '../tokens.js';

/** The leak check could not be made; callers refuse the password change (fail closed). */
export class LeakCheckUnavailable extends Error {
  constructor() {
    super('the leaked-password check is unavailable');
  }
}

const checkResponse = z.object({ pwned: z.boolean() });

/**
 * Asks hibp-service whether a password appears in the Pwned Passwords corpus. Only the SHA-1 of
 * the password leaves this service; hibp-service's contract is
 * POST /v1/check {"sha1": "<40 uppercase hex>"} → {"pwned": boolean}.
 */
@Injectable()
export class LeakedPasswords {
  constructor(
    @Inject(USER_CONFIG) private readonly config: UserServiceConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: AccountMetrics,
  ) {}

  async isLeaked(password: string): Promise<boolean> {
    const sha1 = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();
    try {
      const response = await fetch(`${this.config.HIBP_URL.replace(/\/$/, '')}/v1/check`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ sha1 }),
        signal: AbortSignal.timeout(this.config.HIBP_TIMEOUT_MS),
      });
      if (response.status !== 200) throw new Error(`hibp-service answered ${response.status}`);
      return checkResponse.parse(await response.json()).pwned;
    } catch (err) {
      this.metrics.leakCheckUnavailable.inc();
      this.logger.error(
        { err: err instanceof Error ? err.message : String(err) },
        'leaked-password check unavailable',
      );
      throw new LeakCheckUnavailable();
    }
  }
}
