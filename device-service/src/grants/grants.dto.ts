import { z } from 'zod';

export const DEFAULT_GRANT_HOURS = 24;
export const MAX_GRANT_DAYS = 30;

export const grantRequestSchema = z
  .object({
    email: z.email().max(254),
    scope: z.enum(['read', 'control']),
    /** When the grant ends; 24 hours from now when absent, at most 30 days ahead. */
    expiresAt: z.iso
      .datetime({ offset: true })
      .transform((v) => new Date(v))
      .optional(),
  })
  .strict();

export type GrantRequest = z.output<typeof grantRequestSchema>;
