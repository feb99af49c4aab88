import { posix } from 'node:path';
import { PipelineError } from '../pipeline/types.js';

export interface Matchable {
  rule: { id: string };
  pattern: { match(url: string): string[] | undefined };
  methods: Set<string>;
}

export interface RuleMatch<R extends Matchable> {
  rule: R;
  captures: string[];
}

/**
 * Go's path.Clean, which Oathkeeper applies before matching: `.` and `..` resolved, repeated and
 * trailing slashes dropped. The proxy forwards this same path, so what a rule matched is what the
 * upstream receives (no `/public/../admin` reaching a service as something else).
 */
export function cleanPath(path: string): string {
  const cleaned = posix.normalize(`/${path}`);
  return cleaned.length > 1 && cleaned.endsWith('/') ? cleaned.slice(0, -1) : cleaned;
}

/**
 * The one rule for this method and URL (`scheme://host/path`, no query), with Oathkeeper's answers
 * when there is not exactly one: none → 404, several → 500 (rules must be mutually exclusive).
 * https://www.ory.sh/docs/oathkeeper/api-access-rules
 */
export function findRule<R extends Matchable>(
  rules: readonly R[],
  method: string,
  url: string,
): RuleMatch<R> {
  const wanted = method.toUpperCase();
  const found: RuleMatch<R>[] = [];
  for (const rule of rules) {
    if (!rule.methods.has(wanted)) continue;
    const captures = rule.pattern.match(url);
    if (captures) found.push({ rule, captures });
  }
  const [only, ...others] = found;
  if (!only) throw new PipelineError(404, 'Requested url does not match any rules', `${wanted} ${url}`);
  if (others.length > 0) {
    throw new PipelineError(
      500,
      'Expected exactly one rule but found multiple rules',
      `${wanted} ${url} matched ${found.map((m) => m.rule.rule.id).join(', ')}`,
    );
  }
  return only;
}
