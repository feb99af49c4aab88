import type { PublishRequest } from './contract.js';

/**
 * VerneMQ's webhook decision cache, reproduced so that cert-service may answer this broker as it
 * answers VerneMQ: an `auth_*` answer of `ok` carrying `cache-control: max-age=<s>` is reused for
 * identical requests (every field but `payload` and `peer_port`) until it expires; `next` and
 * errors are never cached, and a cached answer loses its payload modifier. Unlike VerneMQ, entries
 * can be dropped at once through the admin API, which cert-service calls when a fact changes.
 */
export interface CachedAnswer<T> {
  value: T;
  expiresAt: number;
  username: string | null;
  clientId: string;
}

const UNCACHED_FIELDS = new Set(['payload', 'peer_port']);

export function cacheKey(hook: string, body: Record<string, unknown>): string {
  const fields = Object.keys(body)
    .filter((k) => !UNCACHED_FIELDS.has(k))
    .sort()
    .map((k) => [k, body[k]]);
  return `${hook}\n${JSON.stringify(fields)}`;
}

/**
 * `cacheKey` of an auth_on_publish request, built without the request: the broker looks a publish
 * up before it encodes the payload as base64, which a cached answer never needs. The same string
 * as the generic key (its fields in sorted order), so both find the same entry.
 */
export function publishCacheKey(
  publish: Pick<PublishRequest, 'username' | 'mountpoint' | 'client_id' | 'qos' | 'topic' | 'retain'>,
): string {
  return (
    `auth_on_publish\n[["client_id",${JSON.stringify(publish.client_id)}],` +
    `["mountpoint",${JSON.stringify(publish.mountpoint)}],["qos",${publish.qos}],` +
    `["retain",${publish.retain}],["topic",${JSON.stringify(publish.topic)}],` +
    `["username",${JSON.stringify(publish.username)}]]`
  );
}

/** `max-age=` found anywhere in the value, as VerneMQ parses it; undefined when absent or not a number. */
export function maxAgeSeconds(cacheControl: string | null): number | undefined {
  const match = /max-age=(\d+)/i.exec(cacheControl ?? '');
  return match ? Number(match[1]) : undefined;
}

/** The share of an answer's max-age by which its expiry may come early. */
const EXPIRY_SPREAD = 0.2;

export class DecisionCache {
  private readonly entries = new Map<string, CachedAnswer<unknown>>();
  hits = 0;
  misses = 0;
  /**
   * Counts the clears. An answer cert-service computed before a fact changed may arrive after it
   * told the broker to forget: kept, it would allow for its whole max-age what was just revoked.
   */
  private clears = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  get<T>(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.expiresAt <= this.now()) {
      if (entry) this.entries.delete(key);
      this.misses++;
      return undefined;
    }
    this.hits++;
    return entry.value as T;
  }

  /** What to hand `set` with an answer asked for now, so that a clear meanwhile discards it. */
  get generation(): number {
    return this.clears;
  }

  set<T>(
    key: string,
    value: T,
    seconds: number,
    who: { username: string | null; clientId: string },
    askedAt: number = this.clears,
  ): void {
    if (seconds <= 0 || this.maxEntries === 0 || askedAt !== this.clears) return;
    if (this.entries.size >= this.maxEntries) {
      // Oldest insertion first: Map iteration order.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    // Each answer is kept for between 80 % and all of its max-age, never longer. A fleet that
    // connects at once has its answers cached at once: kept for exactly max-age, they would all
    // expire in the same moment, and every device's next publishes would wait on cert-service
    // together, once per max-age, as a burst the broker's event loop stalls on.
    const lifetime = seconds * 1000 * (1 - EXPIRY_SPREAD * this.random());
    this.entries.set(key, { value, expiresAt: this.now() + lifetime, ...who });
  }

  /** Drops the entries of those users or clients, or every entry when both lists are empty. */
  clear(selector: { usernames: string[]; clientIds: string[] }): number {
    this.clears++;
    if (selector.usernames.length === 0 && selector.clientIds.length === 0) {
      const size = this.entries.size;
      this.entries.clear();
      return size;
    }
    const names = new Set(selector.usernames);
    const ids = new Set(selector.clientIds);
    let dropped = 0;
    for (const [key, entry] of this.entries) {
      if ((entry.username !== null && names.has(entry.username)) || ids.has(entry.clientId)) {
        this.entries.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  get size(): number {
    return this.entries.size;
  }
}
