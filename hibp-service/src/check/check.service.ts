import { Counter, type Registry } from 'prom-client';
import { parseSha1Hex } from '../filter/sha1.js';
import type { FilterStore } from './filter-store.js';

/** The filter is not loaded yet (start-up); callers answer 503 rather than "not pwned". */
export class FilterUnavailable extends Error {
  constructor() {
    super('filter not loaded yet');
    this.name = 'FilterUnavailable';
  }
}

/** A SHA-1 that is not 40 hex digits. */
export class InvalidSha1 extends Error {
  constructor() {
    super('sha1 must be 40 hexadecimal characters');
    this.name = 'InvalidSha1';
  }
}

/** Decides whether a password's SHA-1 is in the leaked set, and counts the answers. */
export class CheckService {
  private readonly checks: Counter<'result'>;

  constructor(
    private readonly store: FilterStore,
    registry: Registry,
  ) {
    this.checks = new Counter({
      name: 'hibp_checks_total',
      help: 'Leaked-password checks answered, by result (pwned or clean)',
      labelNames: ['result'] as const,
      registers: [registry],
    });
  }

  isPwned(sha1Hex: string): boolean {
    const digest = parseSha1Hex(sha1Hex);
    if (!digest) throw new InvalidSha1();
    const loaded = this.store.filter;
    if (!loaded) throw new FilterUnavailable();
    const pwned = loaded.filter.has(digest);
    this.checks.inc({ result: pwned ? 'pwned' : 'clean' });
    return pwned;
  }
}
