import { createHash } from 'node:crypto';

/**
 * Introspection results kept until their expiry (the token's, or a shorter TTL), so a busy client
 * costs one introspection call per token and TTL, not one per request. Keys are SHA-256 digests:
 * the cache never holds a usable bearer token. Bounded: the oldest entry goes first when it is full.
 */
export class TokenCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  static key(...parts: string[]): string {
    return createHash('sha256').update(parts.join('\n')).digest('base64url');
  }

  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: T, expiresAt: number): void {
    if (expiresAt <= this.now()) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
