import { createHash, randomBytes } from 'node:crypto';

interface StoredCookie {
  value: string;
  path: string;
}

/**
 * A minimal user agent for flow tests: keeps cookies per host (honouring Path and deletion), and
 * follows redirects one by one so tests can stop at the app's redirect URI.
 */
export class Browser {
  private readonly jar = new Map<string, Map<string, StoredCookie>>();

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url);
    const headers = new Headers(init.headers);
    const cookie = this.cookieHeader(target);
    if (cookie) headers.set('cookie', cookie);
    const response = await fetch(target, { ...init, headers, redirect: 'manual' });
    this.store(target, response.headers.getSetCookie());
    return response;
  }

  /**
   * Follows redirects from `url` until a response is not a redirect or the next location starts
   * with `stopAt` (the app's redirect URI, which no browser can load). Returns the last response
   * and the location it stopped at, if any.
   */
  async follow(
    url: string,
    stopAt?: string,
  ): Promise<{ response: Response; url: string; stoppedAt?: string }> {
    let current = url;
    for (let hop = 0; hop < 20; hop++) {
      const response = await this.request(current);
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) return { response, url: current };
      await response.body?.cancel();
      const next = new URL(location, current).toString();
      if (stopAt && next.startsWith(stopAt)) return { response, url: current, stoppedAt: next };
      current = next;
    }
    throw new Error(`too many redirects from ${url}`);
  }

  /** Posts a form the way a browser submits it (with `headers`, the way a proxy passes it on). */
  submit(
    url: string,
    fields: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return this.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  private cookieHeader(url: URL): string {
    const cookies = this.jar.get(url.host);
    if (!cookies) return '';
    return [...cookies]
      .filter(
        ([, c]) =>
          url.pathname === c.path ||
          url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) ||
          c.path === '/',
      )
      .map(([key, c]) => `${key.split('\0')[0]}=${c.value}`)
      .join('; ');
  }

  private store(url: URL, setCookies: string[]): void {
    const cookies = this.jar.get(url.host) ?? new Map<string, StoredCookie>();
    this.jar.set(url.host, cookies);
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';').map((p) => p.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attr = new Map(
        attributes.map((a) => {
          const i = a.indexOf('=');
          return i < 0 ? [a.toLowerCase(), ''] : [a.slice(0, i).toLowerCase(), a.slice(i + 1)];
        }),
      );
      const path = attr.get('path') ?? '/';
      const key = `${name}\0${path}`;
      const expires = attr.get('expires');
      const removed =
        attr.get('max-age') === '0' || (expires !== undefined && Date.parse(expires) < Date.now());
      if (removed) cookies.delete(key);
      else cookies.set(key, { value, path });
    }
  }
}

/** An RFC 7636 S256 pair. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}
