import { Inject, Injectable } from '@nestjs/common';
import { LOGGER } from '@spincycle/common/nest';
import type { Logger } from '@spincycle/common';
import { normaliseEmail } from '../accounts/email.js';
import { UsersRepository, type User } from '../accounts/users.repository.js';
import type { UserServiceConfig } from '../config.js';
import { AccountMetrics } from '../metrics.js';
import { PasswordHasher } from '../passwords/password-hasher.js';
import { USER_CONFIG } from '../tokens.js';
import type { LockoutPolicy } from '@spincycle/common';
import { ThrottleRepository, type Reservation, type Reserved } from './throttle.repository.js';

export type LoginResult =
  | { outcome: 'authenticated'; user: User }
  /** Unknown address and wrong password are one outcome, so no answer tells them apart. */
  | { outcome: 'invalid' }
  | { outcome: 'locked'; until: Date };

/**
 * Password authentication with brute-force protection per account and per client address. Every
 * failure is counted in metrics and written to the audit log (address, client, reason; never the
 * password).
 */
@Injectable()
export class LoginService {
  private readonly accountPolicy: LockoutPolicy;
  private readonly addressPolicy: LockoutPolicy;

  constructor(
    @Inject(USER_CONFIG) config: UserServiceConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly throttle: ThrottleRepository,
    private readonly metrics: AccountMetrics,
  ) {
    const lock = { baseSeconds: config.LOGIN_LOCKOUT_SECONDS, maxSeconds: config.LOGIN_LOCKOUT_MAX_SECONDS };
    this.accountPolicy = { attemptsBeforeLockout: config.LOGIN_MAX_FAILURES_PER_ACCOUNT, ...lock };
    this.addressPolicy = { attemptsBeforeLockout: config.LOGIN_MAX_FAILURES_PER_IP, ...lock };
  }

  async authenticate(emailInput: string, password: string, clientIp: string): Promise<LoginResult> {
    // An unparseable address still costs a hash and counts as a failure, like an unknown one.
    const email = normaliseEmail(emailInput) ?? emailInput.trim().toLowerCase().slice(0, 254);
    const accountKey = `account:${email}`;
    const addressKey = addressKeyOf(clientIp);
    const attempt = await this.throttle.reserve([
      { key: accountKey, policy: this.accountPolicy },
      { key: addressKey, policy: this.addressPolicy },
    ]);
    if (attempt.outcome === 'locked') {
      this.metrics.loginFailures.inc({ reason: 'locked' });
      this.logger.warn({ audit: 'login.failed', reason: 'locked', email, clientIp }, 'login refused: locked');
      return attempt;
    }
    // The attempt already counts as a failure on both keys (see ThrottleRepository.reserve).
    const user = await this.users.findByEmail(email);
    const valid = user
      ? await this.hasher.verify(password, user.passwordHash)
      : await this.hasher.verifyNobody(password);
    if (!user || !valid) {
      this.metrics.loginFailures.inc({ reason: 'bad_credentials' });
      this.logger.warn(
        { audit: 'login.failed', reason: user ? 'wrong_password' : 'unknown_account', email, clientIp },
        'login refused',
      );
      return { outcome: 'invalid' };
    }
    // Success ends the account's run of failures, and costs the address nothing: others behind
    // the same address (a household, a carrier's NAT) keep their allowance.
    await this.throttle.clear(accountKey);
    await this.throttle.refund(addressKey, attempt);
    this.logger.info({ audit: 'login.succeeded', userId: user.id, clientIp }, 'login');
    return { outcome: 'authenticated', user };
  }

  /**
   * Counts one failed attempt from the client address before an attempt that can reveal an
   * account without its password (see AccountsService.signUp), unless the address is locked.
   */
  reserveAtAddress(clientIp: string): Promise<Reservation> {
    return this.throttle.reserve([{ key: addressKeyOf(clientIp), policy: this.addressPolicy }]);
  }

  /** Hands back what reserveAtAddress counted, for an attempt that revealed nothing. */
  refundAtAddress(clientIp: string, reservation: Reserved): Promise<void> {
    return this.throttle.refund(addressKeyOf(clientIp), reservation);
  }
}

const addressKeyOf = (clientIp: string) => `ip:${clientIp}`;
