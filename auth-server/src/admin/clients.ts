import { randomBytes, randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { AdapterPayload, ClientMetadata } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { z } from 'zod';
import type { PayloadRepository } from '../storage/payload.repository.js';
import { AdminError } from './http.js';

/** The part of Hydra's `oAuth2Client` this server honours; other fields are ignored. */
export const createClientSchema = z.object({
  client_id: z.string().min(1).max(190).optional(),
  client_name: z.string().max(190).optional(),
  client_secret: z.string().min(32).optional(),
  redirect_uris: z.array(z.string()).optional(),
  post_logout_redirect_uris: z.array(z.string()).optional(),
  grant_types: z.array(z.enum(['authorization_code', 'refresh_token'])).optional(),
  response_types: z.array(z.literal('code')).optional(),
  scope: z.string().optional(),
  token_endpoint_auth_method: z.enum(['none', 'client_secret_basic', 'client_secret_post']).optional(),
  skip_consent: z.boolean().optional(),
  audience: z.array(z.string()).optional(),
});
export type CreateClientRequest = z.infer<typeof createClientSchema>;

/** Hydra's `oAuth2Client` as returned by the admin API. */
export interface HydraClient {
  client_id: string;
  client_name: string;
  client_secret?: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  scope: string;
  token_endpoint_auth_method: string;
  skip_consent: boolean;
  audience: string[];
  created_at?: string;
  updated_at?: string;
}

// oidc-provider's model name for clients, under which it looks them up.
const KIND = 'Client';

export class ClientRegistry {
  constructor(
    private readonly provider: Provider,
    private readonly payloads: PayloadRepository,
  ) {}

  async create(request: CreateClientRequest): Promise<HydraClient> {
    const clientId = request.client_id ?? randomUUID();
    if (await this.payloads.find(KIND, clientId)) {
      throw new AdminError(409, 'Conflict', 'a client with this client_id already exists');
    }
    const { metadata, secret } = await this.store(clientId, request, undefined);
    // Hydra shows the secret once, in the answer to the create call.
    return { ...toHydraClient(metadata), ...(secret === undefined ? {} : { client_secret: secret }) };
  }

  /**
   * Hydra's setOAuth2Client: replaces the client with the request. Without a new secret the
   * stored one stays (and is not shown); the client id is the path's.
   */
  async replace(clientId: string, request: CreateClientRequest): Promise<HydraClient> {
    const existing = await this.payloads.find(KIND, clientId);
    if (!existing) throw AdminError.notFound('client');
    const { metadata } = await this.store(clientId, request, existing);
    const shown = request.client_secret;
    return { ...toHydraClient(metadata), ...(shown === undefined ? {} : { client_secret: shown }) };
  }

  async get(clientId: string): Promise<HydraClient> {
    const metadata = await this.payloads.find(KIND, clientId);
    if (!metadata) throw AdminError.notFound('client');
    return toHydraClient(metadata);
  }

  private async store(
    clientId: string,
    request: CreateClientRequest,
    existing: AdapterPayload | undefined,
  ): Promise<{ metadata: AdapterPayload; secret: string | undefined }> {
    const authMethod = request.token_endpoint_auth_method ?? 'client_secret_basic';
    const kept = typeof existing?.client_secret === 'string' ? existing.client_secret : undefined;
    const secret =
      authMethod === 'none'
        ? undefined
        : (request.client_secret ?? kept ?? randomBytes(32).toString('base64url'));
    const now = new Date().toISOString();
    const createdAt = typeof existing?.client_created_at === 'string' ? existing.client_created_at : now;
    const metadata: AdapterPayload = {
      client_id: clientId,
      // oidc-provider refuses an empty name; Hydra's is optional.
      ...(request.client_name ? { client_name: request.client_name } : {}),
      redirect_uris: request.redirect_uris ?? [],
      post_logout_redirect_uris: request.post_logout_redirect_uris ?? [],
      grant_types: request.grant_types ?? ['authorization_code'],
      response_types: request.response_types ?? ['code'],
      scope: request.scope ?? 'openid offline_access',
      token_endpoint_auth_method: authMethod,
      // Apps without a secret are native apps (RFC 8252): custom-scheme redirect URIs are theirs.
      application_type: authMethod === 'none' ? 'native' : 'web',
      skip_consent: request.skip_consent ?? false,
      audience: request.audience ?? [],
      client_created_at: createdAt,
      client_updated_at: now,
      ...(secret === undefined ? {} : { client_secret: secret }),
    };
    try {
      await this.provider.Client.validate(metadata as ClientMetadata);
    } catch (err) {
      if (err instanceof errors.OIDCProviderError) {
        throw new AdminError(400, 'invalid_client_metadata', err.error_description ?? err.message);
      }
      throw err;
    }
    await this.payloads.upsert(KIND, clientId, metadata, undefined);
    return { metadata, secret };
  }
}

/** Hydra's client representation of stored client metadata; never includes the secret. */
export function toHydraClient(metadata: AdapterPayload): HydraClient {
  const strings = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
  const createdAt = typeof metadata.client_created_at === 'string' ? metadata.client_created_at : undefined;
  const updatedAt = typeof metadata.client_updated_at === 'string' ? metadata.client_updated_at : createdAt;
  return {
    client_id: String(metadata.client_id),
    client_name: typeof metadata.client_name === 'string' ? metadata.client_name : '',
    redirect_uris: strings(metadata.redirect_uris),
    post_logout_redirect_uris: strings(metadata.post_logout_redirect_uris),
    grant_types: strings(metadata.grant_types),
    response_types: strings(metadata.response_types),
    scope: typeof metadata.scope === 'string' ? metadata.scope : '',
    token_endpoint_auth_method: String(metadata.token_endpoint_auth_method ?? 'client_secret_basic'),
    skip_consent: metadata.skip_consent === true,
    audience: strings(metadata.audience),
    ...(createdAt ? { created_at: createdAt, updated_at: updatedAt } : {}),
  };
}
