import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** Who is calling and how, as the proxy may believe it. */
export interface ClientView {
  /** The client address: the socket peer, or with trusted forwarding the address that peer saw. */
  ip: string;
  scheme: 'http' | 'https';
  host: string;
  /** X-Forwarded-For to send upstream: the trusted chain plus the peer. */
  forwardedFor: string;
}

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * Only a trusted hop (a load balancer in front, TRUST_FORWARDED_HEADERS) may tell us the client's
 * address, scheme and host; otherwise a client could pose as any address and dodge the rate limit.
 * The trusted hop appends the address it saw, so the client is the last X-Forwarded-For entry.
 */
export function clientView(req: IncomingMessage, trustForwarded: boolean): ClientView | undefined {
  const peer = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const encrypted = (req.socket as TLSSocket).encrypted === true;
  let ip = peer;
  let scheme: 'http' | 'https' = encrypted ? 'https' : 'http';
  let host = first(req.headers.host) ?? '';
  let chain: string[] = [];
  if (trustForwarded) {
    chain = (first(req.headers['x-forwarded-for']) ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    const last = chain.at(-1);
    if (last && isIP(last)) ip = last;
    const proto = first(req.headers['x-forwarded-proto']);
    if (proto === 'http' || proto === 'https') scheme = proto;
    host = first(req.headers['x-forwarded-host']) ?? host;
  }
  if (!HOST.test(host)) return undefined;
  return { ip, scheme, host: host.toLowerCase(), forwardedFor: [...chain, peer].join(', ') };
}
