import { z } from 'zod';
import { MODEL_NAMES } from '../devices/models.js';

export const MAX_BATCH = 500;

export const provisionBatchSchema = z
  .object({
    devices: z
      .array(
        z
          .object({
            // Serials end up on labels and in support calls: letters, digits and dashes only.
            serial: z
              .string()
              .regex(/^[A-Z0-9][A-Z0-9-]{3,63}$/, 'must be 4-64 capital letters, digits or "-"'),
            model: z.enum(MODEL_NAMES),
            hardwareRevision: z
              .string()
              .regex(/^[A-Za-z0-9._-]{1,32}$/, 'must be 1-32 letters, digits, ".", "_" or "-"'),
          })
          .strict(),
      )
      .min(1)
      .max(MAX_BATCH)
      .refine((devices) => new Set(devices.map((d) => d.serial)).size === devices.length, {
        message: 'serial numbers must be unique within a batch',
      }),
  })
  .strict();

export type ProvisionBatch = z.output<typeof provisionBatchSchema>;
