import type { z } from 'zod';
import { InvalidInput } from './errors.js';

/** Parses what crosses the HTTP edge; a failure is a 400 naming each field, never echoing a value. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new InvalidInput(
    result.error.issues.map((i) => `${i.path.map(String).join('.') || 'body'}: ${i.message}`),
  );
}
