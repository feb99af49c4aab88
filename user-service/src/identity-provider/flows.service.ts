import { Injectable } from '@nestjs/common';
import type { OAuth2Client, OAuth2ConsentRequest } from '@ory/hydra-client';
import { AccountsService } from '../accounts/accounts.service.js';
import { grantableScopes } from '../accounts/roles.js';
import { UsersRepository, type User } from '../accounts/users.repository.js';
import { LoginService, type LoginResult } from '../login/login.service.js';
import { HydraAdmin } from './hydra-admin.js';

export type Step = { next: 'redirect'; to: string } | { next: 'show' };

export type LoginStep =
  { outcome: 'accepted'; redirectTo: string } | Exclude<LoginResult, { outcome: 'authenticated' }>;

export interface ConsentScreen {
  clientName: string;
  scopes: string[];
}

function clientName(client: OAuth2Client | undefined): string {
  return client?.client_name || client?.client_id || 'An application';
}

/**
 * The login provider's side of Hydra's login, consent and logout flows: what to show for a
 * challenge, and what to tell the OAuth2 server once the user has answered.
 */
@Injectable()
export class FlowsService {
  constructor(
    private readonly hydra: HydraAdmin,
    private readonly login: LoginService,
    private readonly accounts: AccountsService,
    private readonly users: UsersRepository,
  ) {}

  /** Hydra's `skip`: the user is already authenticated there; accept without asking again. */
  async startLogin(challenge: string): Promise<Step> {
    const request = await this.hydra.getLoginRequest(challenge);
    if (request.skip) {
      return { next: 'redirect', to: await this.hydra.acceptLogin(challenge, request.subject, {}) };
    }
    return { next: 'show' };
  }

  async submitLogin(
    challenge: string,
    email: string,
    password: string,
    clientIp: string,
  ): Promise<LoginStep> {
    // An expired or forged challenge fails here, before a password is checked.
    await this.hydra.getLoginRequest(challenge);
    const result = await this.login.authenticate(email, password, clientIp);
    if (result.outcome !== 'authenticated') return result;
    return { outcome: 'accepted', redirectTo: await this.hydra.acceptLogin(challenge, result.user.id, {}) };
  }

  /** Creates the account and, inside a login flow, logs the new user in. */
  async signUp(
    challenge: string | undefined,
    email: string,
    password: string,
    clientIp: string,
  ): Promise<Step | { next: 'locked'; until: Date }> {
    if (challenge) await this.hydra.getLoginRequest(challenge);
    const result = await this.accounts.signUp(email, password, clientIp);
    if (result.outcome === 'locked') return { next: 'locked', until: result.until };
    if (!challenge) return { next: 'show' };
    return { next: 'redirect', to: await this.hydra.acceptLogin(challenge, result.user.id, {}) };
  }

  /**
   * First-party apps (`skip_consent`) and remembered consents pass without a screen, as the seed
   * design does; others see what they are granting.
   */
  async startConsent(
    challenge: string,
  ): Promise<{ next: 'redirect'; to: string } | ({ next: 'show' } & ConsentScreen)> {
    const request = await this.hydra.getConsentRequest(challenge);
    if (request.skip || request.client?.skip_consent) {
      return { next: 'redirect', to: await this.grantConsent(challenge, request) };
    }
    const user = await this.subjectOf(request);
    return {
      next: 'show',
      clientName: clientName(request.client),
      scopes: user ? grantableScopes(request.requested_scope ?? [], user.roles) : [],
    };
  }

  async decideConsent(challenge: string, allow: boolean): Promise<string> {
    if (allow) return this.grantConsent(challenge, await this.hydra.getConsentRequest(challenge));
    return this.hydra.rejectConsent(challenge, {
      error: 'access_denied',
      error_description: 'The user did not allow access',
    });
  }

  async startLogout(challenge: string): Promise<void> {
    await this.hydra.getLogoutRequest(challenge);
  }

  /** Undefined when the user chose to stay logged in. */
  async decideLogout(challenge: string, logout: boolean): Promise<string | undefined> {
    if (logout) return this.hydra.acceptLogout(challenge);
    await this.hydra.rejectLogout(challenge);
    return undefined;
  }

  private async subjectOf(request: OAuth2ConsentRequest): Promise<User | undefined> {
    return request.subject ? this.users.findById(request.subject) : undefined;
  }

  /** Grants what was asked for and the account may hold; the OAuth2 server drops the rest. */
  private async grantConsent(challenge: string, request: OAuth2ConsentRequest): Promise<string> {
    const user = await this.subjectOf(request);
    if (!user) {
      return this.hydra.rejectConsent(challenge, {
        error: 'access_denied',
        error_description: 'The account no longer exists',
      });
    }
    return this.hydra.acceptConsent(challenge, {
      scopes: grantableScopes(request.requested_scope ?? [], user.roles),
      audience: request.requested_access_token_audience ?? [],
      session: tokenClaims(user),
    });
  }
}

/**
 * What the tokens say about the user (Hydra session data): roles in the access token's
 * introspection `ext`, for the access proxy and the services; roles and address in the ID token.
 */
export function tokenClaims(user: User): { access_token: object; id_token: object } {
  return {
    access_token: { roles: user.roles },
    id_token: { email: user.email, roles: user.roles },
  };
}
