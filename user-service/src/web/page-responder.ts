import { Inject, Injectable } from '@nestjs/common';
import { parse, serialize } from 'cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { UserServiceConfig } from '../config.js';
import { USER_CONFIG } from '../tokens.js';
import { CSRF_COOKIE, CSRF_FIELD, CsrfTokens } from './csrf.js';
import type { SafeHtml } from './html.js';

/**
 * Sends the server-rendered pages with the headers that keep them safe: a CSP that allows no
 * script at all, our stylesheet only, forms posted only to us and the OAuth2 server, and no
 * framing (clickjacking on a login form); no caching and no referrer (challenges are in the URL).
 */
@Injectable()
export class PageResponder {
  private readonly csrf: CsrfTokens;
  private readonly headers: Record<string, string>;
  private readonly secureCookies: boolean;
  private readonly clientAddressHeader: string | undefined;

  constructor(@Inject(USER_CONFIG) config: UserServiceConfig) {
    this.csrf = new CsrfTokens(config.CSRF_SECRET);
    this.secureCookies = config.COOKIE_SECURE;
    this.clientAddressHeader = config.CLIENT_ADDRESS_HEADER?.toLowerCase();
    const oauth2 = new URL(config.OAUTH2_PUBLIC_URL).origin;
    const extra = config.CSP_FORM_ACTION_EXTRA ?? '';
    if (/[;,\r\n]/.test(extra))
      throw new Error('CSP_FORM_ACTION_EXTRA must be CSP sources separated by spaces');
    this.headers = {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        `form-action 'self' ${oauth2} ${extra}`.trim(),
        "frame-ancestors 'none'",
        "base-uri 'none'",
      ].join('; '),
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    };
  }

  /** The token for this browser's forms; gives the browser its CSRF cookie on first visit. */
  csrfToken(request: FastifyRequest, reply: FastifyReply): string {
    let nonce = parse(request.headers.cookie ?? '')[CSRF_COOKIE];
    if (!CsrfTokens.isNonce(nonce)) {
      nonce = CsrfTokens.newNonce();
      void reply.header(
        'set-cookie',
        serialize(CSRF_COOKIE, nonce, {
          httpOnly: true,
          sameSite: 'strict',
          secure: this.secureCookies,
          path: '/',
        }),
      );
    }
    return this.csrf.tokenFor(nonce);
  }

  csrfValid(request: FastifyRequest, body: unknown): boolean {
    const nonce = parse(request.headers.cookie ?? '')[CSRF_COOKIE];
    const token =
      typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[CSRF_FIELD] : undefined;
    return this.csrf.verify(nonce, token);
  }

  /**
   * The address login throttling counts: the proxy's header when one is configured (its last
   * entry, the one the proxy itself wrote), else the peer address.
   */
  clientAddress(request: FastifyRequest): string {
    if (!this.clientAddressHeader) return request.ip;
    const value = request.headers[this.clientAddressHeader];
    const last = (Array.isArray(value) ? value.at(-1) : value)?.split(',').at(-1)?.trim();
    return last || request.ip;
  }

  send(reply: FastifyReply, status: number, page: SafeHtml): void {
    void reply.status(status).headers(this.headers).send(page.toString());
  }

  /** 303: the browser follows with a GET, whatever the form's method was. */
  redirect(reply: FastifyReply, location: string): void {
    void reply
      .status(303)
      .headers({ location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' })
      .send();
  }
}
