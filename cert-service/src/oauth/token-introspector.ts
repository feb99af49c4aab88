import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { LOGGER } from '@spincycle/common/nest';
import type { Logger } from '@spincycle/common';
import { z } from 'zod';
import type { CertServiceConfig } from '../config.js';
import { CERT_CONFIG } from '../tokens.js';

/** RFC 7662 section 2.2, as Hydra's introspectedOAuth2Token returns it; other members are ignored. */
const introspectionResponse = z.object({
  active: z.boolean(),
  sub: z.string().optional(),
  exp: z.number().int().optional(),
  token_use: z.string().optional(),
});

export interface TokenOwner {
  subject: string;
  expiresAt: number;
}

const MAX_CACHED_TOKENS = 100_000;

/**
 * Validates app access tokens at the OAuth2 server's introspection endpoint and remembers an
 * active token until its own expiry, so reconnect storms do not become introspection storms.
 * Tokens are cached under their SHA-256 only. Anything but a clear "active" is a refusal.
 */
@Injectable()
export class TokenIntrospector {
  private readonly active = new Map<string, TokenOwner>();

  constructor(
    @Inject(CERT_CONFIG) private readonly config: CertServiceConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** The token's owner when it is an active access token, or undefined. */
  async ownerOf(token: string, now: number): Promise<TokenOwner | undefined> {
    const key = createHash('sha256').update(token).digest('base64');
    const cached = this.active.get(key);
    if (cached !== undefined) {
      if (cached.expiresAt > now) return cached;
      this.active.delete(key);
    }
    const owner = await this.introspect(token, now);
    if (owner !== undefined) {
      if (this.active.size >= MAX_CACHED_TOKENS) this.active.clear();
      this.active.set(key, owner);
    }
    return owner;
  }

  private async introspect(token: string, now: number): Promise<TokenOwner | undefined> {
    const url = this.config.OAUTH2_INTROSPECTION_URL;
    if (url === undefined) {
      this.logger.warn('app login refused: no OAUTH2_INTROSPECTION_URL configured');
      return undefined;
    }
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    const { OAUTH2_INTROSPECTION_CLIENT_ID: id, OAUTH2_INTROSPECTION_CLIENT_SECRET: secret } = this.config;
    if (id !== undefined && secret !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers,
        body: new URLSearchParams({ token }).toString(),
        signal: AbortSignal.timeout(this.config.INTROSPECTION_TIMEOUT_MS),
      });
    } catch (err) {
      this.logger.warn({ reason: (err as Error).name }, 'token introspection unreachable');
      return undefined;
    }
    if (response.status !== 200) {
      this.logger.warn({ status: response.status }, 'token introspection answered with an error');
      return undefined;
    }
    const parsed = introspectionResponse.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) {
      this.logger.warn('token introspection answer does not match RFC 7662');
      return undefined;
    }
    const claims = parsed.data;
    if (!claims.active || claims.sub === undefined || claims.exp === undefined) return undefined;
    if (claims.token_use !== undefined && claims.token_use !== 'access_token') return undefined;
    const expiresAt = claims.exp * 1000;
    return expiresAt > now ? { subject: claims.sub, expiresAt } : undefined;
  }
}
