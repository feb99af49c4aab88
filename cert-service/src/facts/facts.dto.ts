import { z } from 'zod';
import { SERVICE_PERMISSIONS, type ServicePermission } from '../acl/topic-acl.js';
import { identifier } from '../http/validation.js';

/** A 128-bit (or longer) random secret, as device-service generates them. */
const machineSecret = z.string().min(16, 'must be at least 16 characters').max(512);

export const deviceWriteSchema = z
  .object({
    status: z.enum(['active', 'suspended', 'revoked']),
    ownerId: identifier.nullable(),
    mqttPassword: machineSecret.optional(),
    enrolmentSecret: machineSecret.optional(),
  })
  .strict();
export type DeviceWriteBody = z.infer<typeof deviceWriteSchema>;

export const grantWriteSchema = z
  .object({
    technicianId: identifier,
    deviceId: identifier,
    scope: z.enum(['read', 'control']),
    expiresAt: z.iso.datetime({ offset: true }).transform((v) => new Date(v)),
    revoked: z.boolean().default(false),
  })
  .strict();
export type GrantWriteBody = z.infer<typeof grantWriteSchema>;

export const serviceWriteSchema = z
  .object({
    secret: machineSecret,
    /** What the service may do on the broker; nothing is implied (see ServicePermission). */
    permissions: z
      .array(z.enum(SERVICE_PERMISSIONS as [ServicePermission, ...ServicePermission[]]))
      .min(1)
      .max(SERVICE_PERMISSIONS.length)
      .transform((list) => [...new Set(list)]),
  })
  .strict();

export const revocationSchema = z
  .object({ reason: z.enum(['device_deleted', 'unclaimed', 'stolen', 'superseded', 'compromised', 'other']) })
  .strict();
export type RevocationReason = z.infer<typeof revocationSchema>['reason'];
