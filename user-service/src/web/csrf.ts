import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const CSRF_COOKIE = 'sc_csrf';
export const CSRF_FIELD = '_csrf';

const NONCE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Double-submit CSRF tokens: the browser holds a random nonce in a SameSite=Strict, HttpOnly
 * cookie, and each form carries HMAC(key, nonce). A cross-site page can make the browser send the
 * cookie on some requests but can neither read it nor compute the MAC, so it cannot fill the field.
 */
export class CsrfTokens {
  private readonly key: Buffer;

  constructor(secret: string | undefined) {
    this.key = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
  }

  static newNonce(): string {
    return randomBytes(32).toString('base64url');
  }

  static isNonce(value: string | undefined): value is string {
    return value !== undefined && NONCE.test(value);
  }

  tokenFor(nonce: string): string {
    return createHmac('sha256', this.key).update(nonce).digest('base64url');
  }

  verify(nonce: string | undefined, token: unknown): boolean {
    if (!CsrfTokens.isNonce(nonce) || typeof token !== 'string') return false;
    const expected = Buffer.from(this.tokenFor(nonce));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
