import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { z } from 'zod';
import type { GrantSessions } from '../storage/grant-sessions.js';
import type { LogoutRequests } from '../storage/logout-requests.js';
import type { PayloadRepository } from '../storage/payload.repository.js';
import { toHydraClient, type HydraClient } from './clients.js';
import { AdminError } from './http.js';

type Interaction = InstanceType<Provider['Interaction']>;
type Grant = InstanceType<Provider['Grant']>;

export const acceptLoginSchema = z.object({
  subject: z.string().min(1).max(255),
  remember: z.boolean().optional(),
  remember_for: z.number().int().min(0).optional(),
  acr: z.string().optional(),
  amr: z.array(z.string()).optional(),
  context: z.unknown().optional(),
});

export const acceptConsentSchema = z.object({
  grant_scope: z.array(z.string()).optional(),
  grant_access_token_audience: z.array(z.string()).optional(),
  remember: z.boolean().optional(),
  remember_for: z.number().int().min(0).optional(),
  session: z
    .object({
      access_token: z.record(z.string(), z.unknown()).optional(),
      id_token: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
});

export const rejectSchema = z.object({
  error: z.string().min(1).optional(),
  error_description: z.string().optional(),
  error_hint: z.string().optional(),
  error_debug: z.string().optional(),
  status_code: z.number().int().optional(),
});

export interface RedirectTo {
  redirect_to: string;
}

/** Hydra answers 410 with the redirect when a flow step was already decided. */
export class AlreadyHandled extends Error {
  constructor(readonly redirectTo: string) {
    super('the request was already handled');
  }
}

function scopesOf(interaction: Interaction): string[] {
  const scope = interaction.params.scope;
  return typeof scope === 'string' ? scope.split(' ').filter((s) => s.length > 0) : [];
}

function oidcContext(interaction: Interaction): Record<string, unknown> {
  const { params } = interaction;
  const list = (v: unknown) => (typeof v === 'string' ? v.split(' ') : undefined);
  return {
    ...(typeof params.login_hint === 'string' ? { login_hint: params.login_hint } : {}),
    ...(typeof params.display === 'string' ? { display: params.display } : {}),
    ...(list(params.ui_locales) ? { ui_locales: list(params.ui_locales) } : {}),
    ...(list(params.acr_values) ? { acr_values: list(params.acr_values) } : {}),
  };
}

/**
 * Hydra's login, consent and logout requests over oidc-provider's interactions: a login challenge
 * is the uid of an interaction whose prompt is `login`, a consent challenge one whose prompt is
 * `consent`. Accepting stores the result on the interaction and sends the browser back to the
 * authorization endpoint, which resumes the flow.
 */
export class FlowService {
  constructor(
    private readonly provider: Provider,
    private readonly issuer: string,
    private readonly payloads: PayloadRepository,
    private readonly grantSessions: GrantSessions,
    private readonly logoutRequests: LogoutRequests,
    private readonly options: { postLogoutRedirectUrl: string; grantTtlSeconds: number },
  ) {}

  async getLoginRequest(challenge: string): Promise<Record<string, unknown>> {
    const interaction = await this.pending(challenge, 'login');
    return { ...(await this.describe(challenge, interaction)), session_id: interaction.session?.uid };
  }

  async acceptLogin(challenge: string, body: z.infer<typeof acceptLoginSchema>): Promise<RedirectTo> {
    const interaction = await this.pending(challenge, 'login');
    const result: InteractionResults = {
      login: {
        accountId: body.subject,
        remember: body.remember ?? false,
        ...(body.acr ? { acr: body.acr } : {}),
        ...(body.amr ? { amr: body.amr } : {}),
      },
      // Forwarded to the consent request, as Hydra does.
      context: body.context ?? null,
    };
    return this.finish(interaction, result);
  }

  async rejectLogin(challenge: string, body: z.infer<typeof rejectSchema>): Promise<RedirectTo> {
    return this.finish(await this.pending(challenge, 'login'), rejection(body));
  }

  async getConsentRequest(challenge: string): Promise<Record<string, unknown>> {
    const interaction = await this.pending(challenge, 'consent');
    return {
      ...(await this.describe(challenge, interaction)),
      context: interaction.lastSubmission?.context ?? null,
      login_session_id: interaction.session?.uid,
      consent_request_id: challenge,
      oidc_context: oidcContext(interaction),
    };
  }

  async acceptConsent(challenge: string, body: z.infer<typeof acceptConsentSchema>): Promise<RedirectTo> {
    const interaction = await this.pending(challenge, 'consent');
    const accountId = interaction.session?.accountId;
    const clientId = interaction.params.client_id;
    if (!accountId || typeof clientId !== 'string') {
      throw AdminError.badRequest('the consent request has no authenticated subject');
    }
    const { Grant } = this.provider;
    const grant =
      (interaction.grantId ? await Grant.find(interaction.grantId) : undefined) ??
      new Grant({ accountId, clientId });
    decideScopes(grant, await this.clientOf(interaction), scopesOf(interaction), body.grant_scope ?? []);
    const grantId = await grant.save();
    await this.grantSessions.save(
      {
        grantId,
        accessToken: body.session?.access_token ?? {},
        idToken: body.session?.id_token ?? {},
        audience: body.grant_access_token_audience ?? [],
      },
      this.options.grantTtlSeconds,
    );
    return this.finish(interaction, { ...interaction.lastSubmission, consent: { grantId } });
  }

  async rejectConsent(challenge: string, body: z.infer<typeof rejectSchema>): Promise<RedirectTo> {
    return this.finish(await this.pending(challenge, 'consent'), rejection(body));
  }

  async getLogoutRequest(challenge: string): Promise<Record<string, unknown>> {
    const request = await this.logoutRequests.find(challenge);
    if (!request) throw AdminError.notFound('logout request');
    const client = request.clientId ? await this.payloads.find('Client', request.clientId) : undefined;
    return {
      challenge,
      subject: request.subject,
      sid: request.sid,
      request_url: request.requestUrl,
      rp_initiated: request.rpInitiated,
      ...(client ? { client: toHydraClient(client) } : {}),
      requested_at: request.requestedAt,
      expires_at: request.expiresAt,
    };
  }

  /**
   * Ends the browser session and revokes every grant made in it, refresh tokens included: a user
   * who logs out expects the app to be signed out too.
   */
  async acceptLogout(challenge: string): Promise<RedirectTo> {
    const request = await this.logoutRequests.find(challenge);
    if (!request) throw AdminError.notFound('logout request');
    await this.provider.Session.adapter.destroy(request.sessionId);
    for (const grantId of request.grantIds) await this.payloads.revokeGrant(grantId);
    await this.logoutRequests.remove(challenge);
    if (!request.postLogoutRedirectUri) return { redirect_to: this.options.postLogoutRedirectUrl };
    const target = new URL(request.postLogoutRedirectUri);
    if (request.clientState) target.searchParams.set('state', request.clientState);
    return { redirect_to: target.toString() };
  }

  async rejectLogout(challenge: string): Promise<void> {
    if (!(await this.logoutRequests.find(challenge))) throw AdminError.notFound('logout request');
    await this.logoutRequests.remove(challenge);
  }

  /** Hydra's revokeOAuth2ConsentSessions: the subject's grants (one client or all) and their tokens. */
  async revokeConsentSessions(subject: string, clientId: string | undefined): Promise<void> {
    for (const grantId of await this.payloads.grantIdsOf(subject, clientId)) {
      await this.payloads.revokeGrant(grantId);
    }
  }

  /** Hydra's revokeOAuth2LoginSessions: the subject's browser sessions. */
  async revokeLoginSessions(subject: string): Promise<void> {
    await this.payloads.deleteSessionsOf(subject);
  }

  private async pending(challenge: string, prompt: 'login' | 'consent'): Promise<Interaction> {
    const interaction = await this.provider.Interaction.find(challenge);
    if (!interaction || interaction.prompt.name !== prompt) throw AdminError.notFound(`${prompt} request`);
    if (interaction.result) throw new AlreadyHandled(interaction.returnTo);
    return interaction;
  }

  private async finish(interaction: Interaction, result: InteractionResults): Promise<RedirectTo> {
    interaction.result = result;
    await interaction.save(Math.max(interaction.exp - Math.floor(Date.now() / 1000), 1));
    return { redirect_to: interaction.returnTo };
  }

  /** What Hydra's login and consent requests have in common. */
  private async describe(challenge: string, interaction: Interaction): Promise<Record<string, unknown>> {
    return {
      challenge,
      skip: false,
      subject: interaction.session?.accountId ?? '',
      client: await this.clientOf(interaction),
      request_url: this.requestUrl(interaction),
      requested_scope: scopesOf(interaction),
      requested_access_token_audience: [],
      oidc_context: oidcContext(interaction),
    };
  }

  private async clientOf(interaction: Interaction): Promise<HydraClient> {
    const clientId = interaction.params.client_id;
    const metadata = typeof clientId === 'string' ? await this.payloads.find('Client', clientId) : undefined;
    // A client deleted mid-flow ends the flow.
    if (!metadata) throw AdminError.notFound('client of the request');
    return toHydraClient(metadata);
  }

  private requestUrl(interaction: Interaction): string {
    const url = new URL('/oauth2/auth', this.issuer);
    for (const [key, value] of Object.entries(interaction.params)) {
      if (typeof value === 'string') url.searchParams.set(key, value);
    }
    return url.toString();
  }
}

const without = (scope: string | undefined, removed: ReadonlySet<string>): string =>
  (scope ?? '')
    .split(' ')
    .filter((s) => s.length > 0 && !removed.has(s))
    .join(' ');

/**
 * Records a consent decision on the grant. Only what was asked for, and what the client is
 * registered for, can be granted. What the consent provider left out is refused, as in Hydra, so
 * the authorization goes on with less instead of asking for consent again. Each consent decides
 * every scope it was asked about, whatever an earlier consent on the same (reused) grant said:
 * a demoted admin loses admin scopes, a promoted one gains them.
 */
function decideScopes(grant: Grant, client: HydraClient, requested: string[], grantScope: string[]): void {
  const allowed = new Set(client.scope.split(' '));
  const asked = requested.filter((s) => allowed.has(s));
  const granted = new Set(asked.filter((s) => grantScope.includes(s)));
  const withheld = new Set(asked.filter((s) => !granted.has(s)));
  if (grant.openid) grant.openid.scope = without(grant.openid.scope, withheld);
  if (grant.rejected?.openid) grant.rejected.openid.scope = without(grant.rejected.openid.scope, granted);
  if (granted.size > 0) grant.addOIDCScope(granted);
  if (withheld.size > 0) grant.rejectOIDCScope(withheld);
}

function rejection(body: z.infer<typeof rejectSchema>): InteractionResults {
  return {
    error: body.error ?? 'request_denied',
    error_description: body.error_description ?? 'The resource owner denied the request',
  };
}
