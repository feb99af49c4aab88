/**
 * The subset of Go's text/template that Oathkeeper's header and id_token mutators are configured
 * with: actions `{{ .Subject }}`, `{{ print .Extra.email }}`, `{{ index .MatchContext.RegexpCaptureGroups 0 }}`,
 * pipes into `toJson`, and `{{-`/`-}}` whitespace trimming. Anything else is refused when the rules
 * load, so a typo fails the start-up rather than a request.
 * https://www.ory.sh/docs/oathkeeper/pipeline/mutator#header
 *
 * A field that does not exist renders as an empty string (Go would print `<no value>`, which no
 * service should ever receive as an identity).
 */
export class TemplateError extends Error {
  override name = 'TemplateError';
}

/** The data a template sees, with Oathkeeper's field names. */
export interface TemplateData {
  Subject: string;
  Extra: Record<string, unknown>;
  Header: Record<string, string | string[] | undefined>;
  MatchContext: { RegexpCaptureGroups: string[]; URL: string };
}

type Value = (data: TemplateData) => unknown;
type Piece = string | Value;

export interface Template {
  render(data: TemplateData): string;
}

const PATH = /^\.(?:[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)?$/;

function lookup(path: string): Value {
  if (!PATH.test(path)) throw new TemplateError(`unsupported field reference '${path}'`);
  const keys = path === '.' ? [] : path.slice(1).split('.');
  return (data) => {
    let current: unknown = data;
    for (const key of keys) {
      if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return undefined;
      current = (current as Record<string, unknown>)[key];
    }
    return current;
  };
}

function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function command(words: string[], input: Value | undefined): Value {
  const [name, ...args] = words;
  if (name === undefined) throw new TemplateError('empty command in pipeline');
  if (name.startsWith('.') && args.length === 0 && input === undefined) return lookup(name);
  if (name === 'print' && args.length === 1 && input === undefined) return lookup(args[0] as string);
  if (name === 'print' && args.length === 0 && input !== undefined) return input;
  if (name === 'toJson' && args.length === 0 && input !== undefined) {
    return (data) => JSON.stringify(input(data) ?? null);
  }
  if (name === 'index' && args.length === 2 && input === undefined && /^\d+$/.test(args[1] as string)) {
    const list = lookup(args[0] as string);
    const at = Number(args[1]);
    return (data) => {
      const value = list(data);
      return Array.isArray(value) ? value[at] : undefined;
    };
  }
  throw new TemplateError(`unsupported action '${words.join(' ')}'`);
}

function action(source: string): Value {
  let value: Value | undefined;
  for (const stage of source.split('|')) {
    value = command(stage.trim().split(/\s+/).filter(Boolean), value);
  }
  if (value === undefined) throw new TemplateError('empty action');
  return value;
}

export function compileTemplate(source: string): Template {
  const pieces: Piece[] = [];
  let rest = source;
  while (rest.length > 0) {
    const open = rest.indexOf('{{');
    if (open < 0) {
      pieces.push(rest);
      break;
    }
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateError("unclosed '{{'");
    let before = rest.slice(0, open);
    let inner = rest.slice(open + 2, close);
    let after = rest.slice(close + 2);
    if (inner.startsWith('-')) {
      inner = inner.slice(1);
      before = before.trimEnd();
    }
    if (inner.endsWith('-')) {
      inner = inner.slice(0, -1);
      after = after.trimStart();
    }
    if (before) pieces.push(before);
    pieces.push(action(inner));
    rest = after;
  }
  return {
    render: (data) => pieces.map((piece) => (typeof piece === 'string' ? piece : text(piece(data)))).join(''),
  };
}
