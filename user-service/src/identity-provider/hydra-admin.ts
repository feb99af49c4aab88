import { Inject, Injectable } from '@nestjs/common';
import {
  Configuration,
  OAuth2Api,
  type AcceptOAuth2ConsentRequestSession,
  type OAuth2ConsentRequest,
  type OAuth2LoginRequest,
  type OAuth2LogoutRequest,
} from '@ory/hydra-client';
import { isAxiosError } from 'axios';
import type { UserServiceConfig } from '../config.js';
import { USER_CONFIG } from '../tokens.js';

/** The challenge is unknown or expired. */
export class FlowNotFound extends Error {
  constructor() {
    super('the login, consent or logout request does not exist or has expired');
  }
}

/** The challenge was already decided; Hydra says where the browser must go instead. */
export class FlowAlreadyHandled extends Error {
  constructor(readonly redirectTo: string) {
    super('the request was already handled');
  }
}

export interface RejectReason {
  error: string;
  error_description: string;
}

/**
 * user-service's only door to the OAuth2 server: Hydra's admin API through `@ory/hydra-client`,
 * whether Ory Hydra or auth-server answers it.
 */
@Injectable()
export class HydraAdmin {
  private readonly api: OAuth2Api;

  constructor(@Inject(USER_CONFIG) config: UserServiceConfig) {
    this.api = new OAuth2Api(new Configuration({ basePath: config.HYDRA_ADMIN_URL.replace(/\/$/, '') }));
  }

  getLoginRequest(loginChallenge: string): Promise<OAuth2LoginRequest> {
    return this.call(() => this.api.getOAuth2LoginRequest({ loginChallenge }));
  }

  async acceptLogin(loginChallenge: string, subject: string, context: object): Promise<string> {
    const body = { subject, context, remember: false };
    return (
      await this.call(() =>
        this.api.acceptOAuth2LoginRequest({ loginChallenge, acceptOAuth2LoginRequest: body }),
      )
    ).redirect_to;
  }

  async rejectLogin(loginChallenge: string, reason: RejectReason): Promise<string> {
    return (
      await this.call(() =>
        this.api.rejectOAuth2LoginRequest({ loginChallenge, rejectOAuth2Request: reason }),
      )
    ).redirect_to;
  }

  getConsentRequest(consentChallenge: string): Promise<OAuth2ConsentRequest> {
    return this.call(() => this.api.getOAuth2ConsentRequest({ consentChallenge }));
  }

  async acceptConsent(
    consentChallenge: string,
    grant: { scopes: string[]; audience: string[]; session: AcceptOAuth2ConsentRequestSession },
  ): Promise<string> {
    const body = {
      grant_scope: grant.scopes,
      grant_access_token_audience: grant.audience,
      session: grant.session,
      remember: false,
    };
    return (
      await this.call(() =>
        this.api.acceptOAuth2ConsentRequest({ consentChallenge, acceptOAuth2ConsentRequest: body }),
      )
    ).redirect_to;
  }

  async rejectConsent(consentChallenge: string, reason: RejectReason): Promise<string> {
    return (
      await this.call(() =>
        this.api.rejectOAuth2ConsentRequest({ consentChallenge, rejectOAuth2Request: reason }),
      )
    ).redirect_to;
  }

  getLogoutRequest(logoutChallenge: string): Promise<OAuth2LogoutRequest> {
    return this.call(() => this.api.getOAuth2LogoutRequest({ logoutChallenge }));
  }

  async acceptLogout(logoutChallenge: string): Promise<string> {
    return (await this.call(() => this.api.acceptOAuth2LogoutRequest({ logoutChallenge }))).redirect_to;
  }

  async rejectLogout(logoutChallenge: string): Promise<void> {
    await this.call(() => this.api.rejectOAuth2LogoutRequest({ logoutChallenge }));
  }

  /**
   * Every grant of the subject, with every access and refresh token issued under it, at every
   * client. The browser sessions stay: the next authorization needs no password, but passes
   * consent again.
   */
  async revokeGrants(subject: string): Promise<void> {
    await this.call(() => this.api.revokeOAuth2ConsentSessions({ subject, all: true }));
  }

  /** Every grant and token of the subject, and every browser session: the account is gone. */
  async forgetSubject(subject: string): Promise<void> {
    await this.revokeGrants(subject);
    await this.call(() => this.api.revokeOAuth2LoginSessions({ subject }));
  }

  private async call<T>(request: () => Promise<{ data: T }>): Promise<T> {
    try {
      return (await request()).data;
    } catch (err) {
      if (isAxiosError(err) && err.response?.status === 404) throw new FlowNotFound();
      if (isAxiosError(err) && err.response?.status === 410) {
        const redirectTo = (err.response.data as { redirect_to?: unknown } | undefined)?.redirect_to;
        if (typeof redirectTo === 'string') throw new FlowAlreadyHandled(redirectTo);
      }
      // Axios errors carry the request, headers included; only the status goes further.
      const status = isAxiosError(err) ? (err.response?.status ?? 'no answer') : 'failed';
      throw new Error(`OAuth2 admin API call failed: ${status}`);
    }
  }
}
