import { Counter, type Registry } from 'prom-client';
import type { FilterStore } from './filter-store.js';

/** The filter is not loaded yet (start-up); callers answer 503 rather than "not pwned". */
export class FilterUnavailable extends Error {
  constructor() {
    super('filter not loaded yet');
    this.name = 'FilterUnavailable';
  }
}

/** Decides whether a password's SHA-1 is in the leaked set, and counts the answers. */
export class CheckService {
  // Bound once: a labels object built per check would be garbage on the hottest path.
  private readonly pwned: { inc(value?: number): void };
  private readonly clean: { inc(value?: number): void };

  constructor(
    private readonly store: FilterStore,
    registry: Registry,
  ) {
    const checks = new Counter({
      name: 'hibp_checks_total',
      help: 'Leaked-password checks answered, by result (pwned or clean)',
      labelNames: ['result'] as const,
      registers: [registry],
    });
    this.pwned = checks.labels('pwned');
    this.clean = checks.labels('clean');
    // Both series exist from the start, so a rate() over them has no gap before the first check.
    this.pwned.inc(0);
    this.clean.inc(0);
  }

  /** `digest` is the 20-byte SHA-1, parsed at the edge (check.http.ts). */
  isPwned(digest: Uint8Array): boolean {
    const loaded = this.store.filter;
    if (!loaded) throw new FilterUnavailable();
    const pwned = loaded.filter.has(digest);
    (pwned ? this.pwned : this.clean).inc();
    return pwned;
  }
}
