import { BadRequestException } from '@nestjs/common';
import { z } from 'zod';

/** Identifiers that end up in topic levels and certificate subjects: no '/', '+', '#', spaces or NUL. */
export const identifier = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 letters, digits, ".", "_" or "-"');

/** Parses a request body or parameter at the edge; a failure is a 400 naming the fields, never echoing values. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input, { error: missingIsRequired });
  if (result.success) return result.data;
  const problems = [...new Set(result.error.issues.flatMap((issue) => describeIssue(issue, [])))];
  throw new BadRequestException({ statusCode: 400, message: 'invalid request', problems });
}

/** zod says "expected string, received undefined" of a field left out. */
const missingIsRequired = (issue: z.core.$ZodRawIssue) =>
  issue.code === 'invalid_type' && issue.input === undefined ? 'required' : undefined;

/**
 * One line per problem. A body that fits none of a union's forms would otherwise get zod's bare
 * "Invalid input": what every form lacks is named once, and then what each form still lacks.
 */
function describeIssue(issue: z.core.$ZodIssue, at: PropertyKey[]): string[] {
  const path = [...at, ...issue.path];
  const where = path.map(String).join('.') || 'body';
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [`${where}: ${issue.message}`];
  const forms = issue.errors.map((form) => form.flatMap((inner) => describeIssue(inner, path)));
  const everyForm = forms[0]!.filter((line) => forms.every((form) => form.includes(line)));
  const rest = forms.map((form) => form.filter((line) => !everyForm.includes(line)));
  if (rest.some((form) => form.length === 0)) return everyForm;
  return [
    ...everyForm,
    `${where}: matches none of ${forms.length} forms: ` +
      rest.map((form, i) => `(${i + 1}) ${form.join('; ')}`).join(' or '),
  ];
}
