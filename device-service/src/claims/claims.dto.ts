import { z } from 'zod';

export const claimRequestSchema = z
  .object({
    serial: z.string().min(1).max(64),
    claimCode: z.string().min(1).max(64),
  })
  .strict();

export type ClaimRequest = z.output<typeof claimRequestSchema>;
