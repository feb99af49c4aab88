import { z } from 'zod';
import type { EventCursor } from './events.repository.js';

const cursorShape = z.object({ t: z.string().min(1).max(64), i: z.string().regex(/^\d{1,19}$/) }).strict();

/** Cursors are opaque to clients: base64url of the last row's position. */
export function encodeCursor(cursor: EventCursor): string {
  return Buffer.from(JSON.stringify({ t: cursor.receivedAt, i: cursor.id })).toString('base64url');
}

const cursor = z
  .string()
  .max(256)
  .transform((value, ctx): EventCursor => {
    try {
      const parsed = cursorShape.parse(JSON.parse(Buffer.from(value, 'base64url').toString('utf8')));
      if (Number.isNaN(Date.parse(parsed.t))) throw new Error('not a time');
      return { receivedAt: parsed.t, id: parsed.i };
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a cursor this API gave out' });
      return z.NEVER;
    }
  });

const time = z.iso.datetime({ offset: true }).transform((v) => new Date(v));

export const eventQuerySchema = z
  .object({
    before: cursor.optional(),
    from: time.optional(),
    to: time.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict()
  .refine((q) => !q.from || !q.to || q.from.getTime() < q.to.getTime(), {
    message: 'must be before to',
    path: ['from'],
  });

export type EventQueryParams = z.output<typeof eventQuerySchema>;
