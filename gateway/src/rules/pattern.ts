/**
 * URL patterns of access rules, with Oathkeeper's two matching strategies. A pattern is literal text
 * with dynamic parts between `<` and `>`; the whole URL must match (the pattern is anchored).
 *
 * - `regexp`: each `<…>` part is a regular expression and becomes a capture group, exposed to
 *   templates as `.MatchContext.RegexpCaptureGroups`. Example: `<https|http>://mydomain.com/<.*>`.
 * - `glob`: each `<…>` part is a glob with `.` and `/` as separators: `*` and `?` stop at a
 *   separator, `**` crosses them, `[a-z]`, `[!a-z]` and `{a,b}` as usual. Example:
 *   `https://mydomain.com/<{foo*,bar*}>`.
 *
 * https://www.ory.sh/docs/oathkeeper/api-access-rules
 */
export type MatchingStrategy = 'regexp' | 'glob';

export class PatternError extends Error {
  override name = 'PatternError';
}

export interface UrlPattern {
  /** The capture groups when the URL matches (always empty for glob), undefined otherwise. */
  match(url: string): string[] | undefined;
}

interface Part {
  literal: boolean;
  text: string;
}

/** Splits at the outermost `<`/`>` pairs; nested pairs stay inside their part, as ladon counts them. */
export function splitDelimited(pattern: string): Part[] {
  const parts: Part[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '<') {
      if (depth === 0) {
        if (i > start) parts.push({ literal: true, text: pattern.slice(start, i) });
        start = i + 1;
      }
      depth++;
    } else if (char === '>') {
      if (depth === 0) throw new PatternError(`unbalanced '>' at position ${i}`);
      depth--;
      if (depth === 0) {
        parts.push({ literal: false, text: pattern.slice(start, i) });
        start = i + 1;
      }
    }
  }
  if (depth !== 0) throw new PatternError("unbalanced '<': a dynamic part is never closed");
  if (start < pattern.length) parts.push({ literal: true, text: pattern.slice(start) });
  return parts;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function anchored(source: string): RegExp {
  try {
    return new RegExp(`^${source}$`);
  } catch (err) {
    throw new PatternError(err instanceof Error ? err.message : String(err));
  }
}

function compileRegexp(pattern: string): UrlPattern {
  const source = splitDelimited(pattern)
    .map((part) => (part.literal ? escapeRegExp(part.text) : `(${part.text})`))
    .join('');
  const regexp = anchored(source);
  return {
    match(url) {
      const found = regexp.exec(url);
      return found ? found.slice(1).map((group) => group ?? '') : undefined;
    },
  };
}

const SEPARATORS = '[^./]';

/** Translates one glob (the inside of a `<…>` part) into regular-expression source. */
export function globToRegExpSource(glob: string): string {
  let out = '';
  let i = 0;
  const alternatives = (): string => {
    // `{a,b}` at position i: split at top-level commas, each alternative is itself a glob.
    let depth = 0;
    let current = '';
    const options: string[] = [];
    for (i++; i < glob.length; i++) {
      const char = glob[i] as string;
      if (char === '\\' && i + 1 < glob.length) {
        current += char + glob[++i];
      } else if (char === '{') {
        depth++;
        current += char;
      } else if (char === '}' && depth > 0) {
        depth--;
        current += char;
      } else if (char === '}') {
        options.push(current);
        return `(?:${options.map(globToRegExpSource).join('|')})`;
      } else if (char === ',' && depth === 0) {
        options.push(current);
        current = '';
      } else {
        current += char;
      }
    }
    throw new PatternError("unbalanced '{' in glob");
  };
  const characterClass = (): string => {
    const end = glob.indexOf(']', i + 2);
    if (end < 0) throw new PatternError("unbalanced '[' in glob");
    let body = glob.slice(i + 1, end);
    const negated = body.startsWith('!');
    if (negated) body = body.slice(1);
    i = end;
    return `[${negated ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
  };
  for (; i < glob.length; i++) {
    const char = glob[i] as string;
    if (char === '*' && glob[i + 1] === '*') {
      out += '.*';
      i++;
    } else if (char === '*') {
      out += `${SEPARATORS}*`;
    } else if (char === '?') {
      out += SEPARATORS;
    } else if (char === '[') {
      out += characterClass();
    } else if (char === '{') {
      out += alternatives();
    } else if (char === '\\' && i + 1 < glob.length) {
      out += escapeRegExp(glob[++i] as string);
    } else {
      out += escapeRegExp(char);
    }
  }
  return out;
}

function compileGlob(pattern: string): UrlPattern {
  const source = splitDelimited(pattern)
    .map((part) => (part.literal ? escapeRegExp(part.text) : `(?:${globToRegExpSource(part.text)})`))
    .join('');
  const regexp = anchored(source);
  return { match: (url) => (regexp.test(url) ? [] : undefined) };
}

export function compilePattern(pattern: string, strategy: MatchingStrategy): UrlPattern {
  return strategy === 'glob' ? compileGlob(pattern) : compileRegexp(pattern);
}
