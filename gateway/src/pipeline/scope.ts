/**
 * Scope strategies of Oathkeeper's `scope_strategy`, the ones Hydra's fosite defines. Each answers
 * whether the scopes granted to a token satisfy one required scope.
 * https://www.ory.sh/docs/hydra/guides/scope-and-audience#scope-strategies
 */
export type ScopeStrategy = 'exact' | 'hierarchic' | 'wildcard';

type Matcher = (granted: string, required: string) => boolean;

const exact: Matcher = (granted, required) => granted === required;

/** `photos` grants `photos.read` and `photos.read.own`, but `photos.read` does not grant `photos`. */
const hierarchic: Matcher = (granted, required) => granted === required || required.startsWith(`${granted}.`);

/**
 * `*` stands for exactly one segment: `photos.*` grants `photos.read` (and, being a prefix,
 * `photos.read.own`) but not `photos`; without `*` it is hierarchic.
 */
const wildcard: Matcher = (granted, required) => {
  if (granted === required) return true;
  const have = granted.split('.');
  const want = required.split('.');
  if (have.length > want.length) return false;
  return have.every((segment, i) => segment === '*' || segment === want[i]);
};

const MATCHERS: Record<ScopeStrategy, Matcher> = { exact, hierarchic, wildcard };

/** The required scopes the granted ones do not satisfy (empty when access is allowed). */
export function missingScopes(strategy: ScopeStrategy, granted: string[], required: string[]): string[] {
  const matches = MATCHERS[strategy];
  return required.filter((need) => !granted.some((have) => matches(have, need)));
}
