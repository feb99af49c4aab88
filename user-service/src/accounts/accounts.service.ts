import { Inject, Injectable, Optional } from '@nestjs/common';
import { LOGGER } from '@spincycle/common/nest';
import type { Logger } from '@spincycle/common';
import { HydraAdmin } from '../identity-provider/hydra-admin.js';
import { LoginService } from '../login/login.service.js';
import { LeakedPasswords } from '../passwords/leaked-passwords.js';
import { PasswordHasher } from '../passwords/password-hasher.js';
import { passwordProblem } from '../passwords/password-policy.js';
import { DEVICE_RELEASE, type DeviceReleasePort } from './device-release.port.js';
import { normaliseEmail } from './email.js';
import { DEFAULT_ROLES, mayAssignRoles, type Role } from './roles.js';
import { EmailTaken, UsersRepository, type User } from './users.repository.js';

/** A request the user can correct; the message is for them. */
export class AccountRefused extends Error {
  constructor(
    readonly field: 'email' | 'password' | 'currentPassword',
    message: string,
  ) {
    super(message);
  }
}

export class NotAllowed extends Error {}
export class UserNotFound extends Error {}

export const LEAKED_PASSWORD_MESSAGE =
  'This password has appeared in a data breach, so attackers try it first. Choose another one.';

export type PasswordChangeResult =
  { outcome: 'changed' } | { outcome: 'invalid' } | { outcome: 'locked'; until: Date };

export type SignUpResult = { outcome: 'created'; user: User } | { outcome: 'locked'; until: Date };

/** Accounts: creation, password change, roles, deletion. */
@Injectable()
export class AccountsService {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly leaked: LeakedPasswords,
    private readonly login: LoginService,
    private readonly hydra: HydraAdmin,
    @Optional() @Inject(DEVICE_RELEASE) private readonly devices?: DeviceReleasePort,
  ) {}

  /**
   * Creates an account; throws AccountRefused or LeakCheckUnavailable.
   *
   * Sign-up says when an address already has an account (there is no mail to say it privately),
   * so trying addresses would list the accounts. Each attempt therefore counts as a failed login
   * from the client's address until it turns out to have revealed nothing: listing accounts gets
   * the allowance that guessing passwords gets, and an address locked for either is refused both.
   */
  async signUp(emailInput: string, password: string, clientIp: string): Promise<SignUpResult> {
    const email = normaliseEmail(emailInput);
    if (!email) throw new AccountRefused('email', 'Enter a valid e-mail address.');
    const attempt = await this.login.reserveAtAddress(clientIp);
    if (attempt.outcome === 'locked') {
      this.logger.warn({ audit: 'signup.refused', reason: 'locked', clientIp }, 'sign-up refused: locked');
      return attempt;
    }
    let revealed = false;
    try {
      await this.acceptableNewPassword(password);
      const user = await this.users.create(email, await this.hasher.hash(password), DEFAULT_ROLES);
      this.logger.info({ audit: 'account.created', userId: user.id, clientIp }, 'account created');
      return { outcome: 'created', user };
    } catch (err) {
      if (!(err instanceof EmailTaken)) throw err;
      revealed = true;
      this.logger.warn(
        { audit: 'signup.refused', reason: 'email_taken', email, clientIp },
        'sign-up refused: the address has an account',
      );
      throw new AccountRefused('email', 'An account with this e-mail address exists. Log in instead.');
    } finally {
      if (!revealed) await this.login.refundAtAddress(clientIp, attempt);
    }
  }

  /** Re-checks the current password (throttled like a login), then the new one. */
  async changePassword(
    emailInput: string,
    currentPassword: string,
    newPassword: string,
    clientIp: string,
  ): Promise<PasswordChangeResult> {
    const login = await this.login.authenticate(emailInput, currentPassword, clientIp);
    if (login.outcome !== 'authenticated') return login;
    if (newPassword === currentPassword) {
      throw new AccountRefused('password', 'The new password must differ from the current one.');
    }
    await this.acceptableNewPassword(newPassword);
    await this.users.updatePassword(login.user.id, await this.hasher.hash(newPassword));
    this.logger.info(
      { audit: 'account.password_changed', userId: login.user.id, clientIp },
      'password changed',
    );
    return { outcome: 'changed' };
  }

  async find(userId: string): Promise<User> {
    const user = await this.users.findById(userId);
    if (!user) throw new UserNotFound();
    return user;
  }

  async setRoles(actorId: string, targetId: string, roles: Role[]): Promise<User> {
    const actor = await this.find(actorId);
    if (!mayAssignRoles(actor, targetId))
      throw new NotAllowed('only an admin may change roles of another user');
    const updated = await this.users.setRoles(targetId, [...new Set(roles)]);
    if (!updated) throw new UserNotFound();
    this.logger.info(
      { audit: 'account.roles_changed', userId: targetId, by: actorId, roles: updated.roles },
      'roles changed',
    );
    // Consent writes the roles into the grant, and every refresh copies them (and the admin
    // scopes they allowed) into new tokens for as long as the grant lives. Ending the grants makes
    // the next authorization pass consent again, which reads the roles just stored. After the
    // update, so no consent in between can grant the old roles; on every call, even with the
    // roles unchanged, so retrying after a failed revocation revokes.
    await this.hydra.revokeGrants(targetId);
    return updated;
  }

  /**
   * Deletes the account: its grants, tokens and sessions at the OAuth2 server first (so nothing
   * issued to it stays usable), then its devices, then the record.
   */
  async deleteAccount(userId: string): Promise<void> {
    const user = await this.find(userId);
    await this.hydra.forgetSubject(user.id);
    if (this.devices) await this.devices.releaseDevicesOf(user.id);
    await this.users.delete(user.id);
    this.logger.info(
      { audit: 'account.deleted', userId: user.id, devicesReleased: this.devices ? 'released' : 'pending' },
      'account deleted',
    );
  }

  private async acceptableNewPassword(password: string): Promise<void> {
    const problem = passwordProblem(password);
    if (problem) throw new AccountRefused('password', problem);
    if (await this.leaked.isLeaked(password)) throw new AccountRefused('password', LEAKED_PASSWORD_MESSAGE);
  }
}
