import type { Matchable } from './match.js';

/** A route a service registered, as `RunningService.routes` lists it (Fastify's path syntax). */
export interface ServiceRoute {
  method: string;
  path: string;
}

/**
 * A route that must stay off the public rules, and why. `method: '*'` covers every method; a path
 * ending in `/**` covers everything under it.
 */
export interface InternalRoute extends ServiceRoute {
  reason: string;
}

export interface CoverageReport {
  /** Routes no rule matches: unreachable from outside, and not declared internal. */
  unmatched: ServiceRoute[];
  /** Routes several rules match: Oathkeeper answers 500 for them. */
  ambiguous: { route: ServiceRoute; rules: string[] }[];
  /** Routes declared internal that a public rule exposes anyway. */
  exposed: { route: ServiceRoute; rules: string[] }[];
}

// A value every id-like path pattern of a rule accepts: a UUID has no separator and no dot.
const SAMPLE_PARAMETER = '0b5c7c8e-6a1e-4b1f-9f2a-6d3c2b1a0f9e';

/** `/devices/:id/events` → `/devices/<uuid>/events`; `*` becomes two segments. */
export function samplePath(path: string): string {
  return path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? SAMPLE_PARAMETER : segment === '*' ? 'a/b' : segment))
    .join('/');
}

const covers = (entry: InternalRoute, path: string) =>
  entry.path.endsWith('/**') ? path.startsWith(entry.path.slice(0, -2)) : entry.path === path;

const isInternal = (route: ServiceRoute, internal: readonly InternalRoute[]) =>
  internal.some(
    (entry) =>
      covers(entry, route.path) && (entry.method === '*' || entry.method === route.method.toUpperCase()),
  );

/**
 * Checks that every service route is reachable through exactly one public rule, unless it is
 * declared internal (then no rule may reach it). HEAD routes that Fastify adds next to each GET are
 * left out: the rules list methods explicitly and HEAD is not one of them.
 */
export function ruleCoverage(
  rules: readonly Matchable[],
  routes: readonly ServiceRoute[],
  internal: readonly InternalRoute[],
  origin = 'https://api.spincycle.test',
): CoverageReport {
  const report: CoverageReport = { unmatched: [], ambiguous: [], exposed: [] };
  const gets = new Set(routes.filter((r) => r.method.toUpperCase() === 'GET').map((r) => r.path));
  for (const route of routes) {
    const method = route.method.toUpperCase();
    if (method === 'HEAD' && gets.has(route.path)) continue;
    const url = `${origin}${samplePath(route.path)}`;
    const matching = rules
      .filter((rule) => rule.methods.has(method) && rule.pattern.match(url) !== undefined)
      .map((rule) => rule.rule.id);
    if (isInternal(route, internal)) {
      if (matching.length > 0) report.exposed.push({ route, rules: matching });
    } else if (matching.length === 0) {
      report.unmatched.push(route);
    } else if (matching.length > 1) {
      report.ambiguous.push({ route, rules: matching });
    }
  }
  return report;
}
