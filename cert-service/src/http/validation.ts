import { BadRequestException } from '@nestjs/common';
import { z } from 'zod';

/** Identifiers that end up in topic levels and certificate subjects: no '/', '+', '#', spaces or NUL. */
export const identifier = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 letters, digits, ".", "_" or "-"');

/** Parses a request body or parameter at the edge; a failure is a 400 naming the fields, never echoing values. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.map(String).join('.') || 'body'}: ${i.message}`);
  throw new BadRequestException({ statusCode: 400, message: 'invalid request', problems });
}
