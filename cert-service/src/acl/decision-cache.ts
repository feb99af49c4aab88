import type { Decision } from './topic-acl.js';

interface Entry {
  decision: Decision;
  expiresAt: number;
  tags: readonly string[];
}

/** Tags name what a cached decision rests on, so a change to that fact drops exactly those entries. */
export const cacheTags = {
  device: (deviceId: string) => `device:${deviceId}`,
  identity: (username: string) => `identity:${username}`,
};

/**
 * Broker decisions per (identity, device, action), each tagged with the facts it was derived
 * from. Invalidation is immediate and synchronous. A generation counter closes the race where a
 * decision computed from facts read before a change would be stored after that change was
 * invalidated: such a decision is simply not cached.
 */
export class DecisionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly keysByTag = new Map<string, Set<string>>();
  private generation = 0;
  private enabled = true;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  static key(username: string, deviceId: string, action: string): string {
    return `${username}\u0000${deviceId}\u0000${action}`;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now: number): Decision | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.remove(key);
      return undefined;
    }
    return entry.decision;
  }

  /** The generation to pass to `set` for a decision whose facts are read from now on. */
  currentGeneration(): number {
    return this.generation;
  }

  set(
    key: string,
    tags: readonly string[],
    decision: Decision,
    bound: { now: number; notAfter?: number; generation: number },
  ): void {
    if (!this.enabled || bound.generation !== this.generation || this.maxEntries === 0 || this.ttlMs === 0)
      return;
    const expiresAt = Math.min(bound.now + this.ttlMs, bound.notAfter ?? Number.POSITIVE_INFINITY);
    if (expiresAt <= bound.now) return;
    this.remove(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.remove(oldest.value);
    }
    this.entries.set(key, { decision, expiresAt, tags });
    for (const tag of tags) {
      let keys = this.keysByTag.get(tag);
      if (keys === undefined) {
        keys = new Set();
        this.keysByTag.set(tag, keys);
      }
      keys.add(key);
    }
  }

  /** Forgets every decision resting on any of the tags. */
  invalidate(tags: readonly string[]): number {
    this.generation++;
    let removed = 0;
    for (const tag of tags) {
      const keys = this.keysByTag.get(tag);
      if (keys === undefined) continue;
      for (const key of [...keys]) {
        if (this.remove(key)) removed++;
      }
    }
    return removed;
  }

  /** Forgets everything and stores nothing more: for when changes may no longer reach this cache. */
  disable(): void {
    this.enabled = false;
    this.generation++;
    this.entries.clear();
    this.keysByTag.clear();
  }

  /** How many live entries rest on the tag (operators' and tests' view). */
  countTagged(tag: string): number {
    return this.keysByTag.get(tag)?.size ?? 0;
  }

  private remove(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.entries.delete(key);
    for (const tag of entry.tags) {
      const keys = this.keysByTag.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByTag.delete(tag);
    }
    return true;
  }
}
