import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  buildAuthenticator,
  buildAuthorizer,
  buildMutator,
  checkErrorHandler,
  type HandlerContext,
  type HandlerRef,
} from '../pipeline/handlers.js';
import type { Authenticator, Authorizer, Mutator } from '../pipeline/types.js';
import { compilePattern, type MatchingStrategy, type UrlPattern } from './pattern.js';
import { describeErrors, validateRulesDocument } from './schemas.js';

/** One access rule in Oathkeeper's format (the `rule` schema of its API spec). */
export interface AccessRule {
  id: string;
  version?: string;
  description?: string;
  match: { url: string; methods: string[] };
  authenticators: HandlerRef[];
  authorizer: HandlerRef;
  mutators: HandlerRef[];
  errors?: HandlerRef[];
  upstream: { url: string; preserve_host?: boolean; strip_path?: string };
}

/** A rule ready to serve: its pattern compiled and its handlers built from their config. */
export interface CompiledRule {
  rule: AccessRule;
  pattern: UrlPattern;
  methods: Set<string>;
  upstream: URL;
  authenticators: Authenticator[];
  authorizer: Authorizer;
  mutators: Mutator[];
}

/** A rules file that cannot be served; the message names the file, the rule and the problem. */
export class RulesError extends Error {
  override name = 'RulesError';
}

export function parseRulesText(text: string, format: 'json' | 'yaml'): unknown {
  return format === 'yaml' ? parseYaml(text) : JSON.parse(text);
}

function ruleLabel(document: unknown, index: number): string {
  const entry = Array.isArray(document) ? (document[index] as { id?: unknown } | undefined) : undefined;
  return typeof entry?.id === 'string' && entry.id ? `rule '${entry.id}'` : `rule #${index}`;
}

/** Checks a parsed rules document against Oathkeeper's rule schema; returns one line per problem. */
export function schemaProblems(document: unknown): string[] {
  if (validateRulesDocument(document)) return [];
  return describeErrors(validateRulesDocument.errors).map((line) => {
    const found = /^\/(\d+)(\/.*)?$/.exec(line.split(' ')[0] ?? '');
    if (!found) return line;
    const rest = line.slice(line.indexOf(' ') + 1);
    return `${ruleLabel(document, Number(found[1]))}: ${found[2] ?? '(rule)'} ${rest}`;
  });
}

/** What Oathkeeper needs of a rule beyond the schema's types (which mark nothing as required). */
function semanticProblems(rule: Partial<AccessRule>): string[] {
  const problems: string[] = [];
  if (!rule.id) problems.push('id is required');
  else if (rule.id.length > 190) problems.push('id is longer than 190 characters');
  if (!rule.match?.url) problems.push('match.url is required');
  if (!rule.match?.methods?.length) problems.push('match.methods must list at least one method');
  if (!rule.authenticators?.length) problems.push('authenticators must list at least one handler');
  if (!rule.authorizer?.handler) problems.push('authorizer is required');
  if (!rule.mutators?.length) problems.push('mutators must list at least one handler');
  if (!rule.upstream?.url) problems.push('upstream.url is required by the proxy');
  else if (!/^https?:\/\/[^/]/.test(rule.upstream.url)) problems.push('upstream.url must be an http(s) URL');
  return problems;
}

function compileRule(rule: AccessRule, strategy: MatchingStrategy, context: HandlerContext): CompiledRule {
  const problems = semanticProblems(rule);
  if (problems.length > 0) throw new Error(problems.join('; '));
  let pattern: UrlPattern;
  try {
    pattern = compilePattern(rule.match.url, strategy);
  } catch (err) {
    throw new Error(`match.url is not a valid ${strategy} pattern: ${(err as Error).message}`);
  }
  for (const handler of rule.errors ?? []) checkErrorHandler(handler);
  return {
    rule,
    pattern,
    methods: new Set(rule.match.methods.map((method) => method.toUpperCase())),
    upstream: new URL(rule.upstream.url),
    authenticators: rule.authenticators.map((ref) => buildAuthenticator(ref, context)),
    authorizer: buildAuthorizer(rule.authorizer),
    mutators: rule.mutators.map((ref) => buildMutator(ref, context)),
  };
}

/** Validates a parsed rules document and builds every rule; all problems are reported at once. */
export function compileRules(
  document: unknown,
  strategy: MatchingStrategy,
  context: HandlerContext,
  source = 'rules',
): CompiledRule[] {
  const problems = schemaProblems(document);
  if (problems.length > 0) throw new RulesError(`${source}: ${problems.join('; ')}`);
  const rules = document as AccessRule[];
  const compiled: CompiledRule[] = [];
  const seen = new Set<string>();
  rules.forEach((rule, index) => {
    try {
      if (rule.id && seen.has(rule.id)) throw new Error('id is used by an earlier rule');
      seen.add(rule.id);
      compiled.push(compileRule(rule, strategy, context));
    } catch (err) {
      problems.push(`${ruleLabel(rules, index)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  if (problems.length > 0) throw new RulesError(`${source}: ${problems.join('; ')}`);
  return compiled;
}

/** Reads a local JSON or YAML rules file (YAML by its .yaml/.yml extension). */
export async function loadRulesFile(
  path: string,
  strategy: MatchingStrategy,
  context: HandlerContext,
): Promise<CompiledRule[]> {
  let document: unknown;
  try {
    const format = ['.yaml', '.yml'].includes(extname(path).toLowerCase()) ? 'yaml' : 'json';
    document = parseRulesText(await readFile(path, 'utf8'), format);
  } catch (err) {
    throw new RulesError(
      `${path}: cannot read access rules: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return compileRules(document, strategy, context, path);
}
