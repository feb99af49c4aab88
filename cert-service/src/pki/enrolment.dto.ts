import { z } from 'zod';
import { identifier } from '../http/validation.js';
import { normalizeSerial } from './pki-backend.js';

const pem = z.string().min(1).max(16_384);

/** The device proves itself with its one-time enrolment secret, or (renewal) its current certificate. */
export const enrolmentSchema = z.union([
  z.object({ deviceId: identifier, csr: pem, enrolmentSecret: z.string().min(16).max(512) }).strict(),
  z
    .object({
      deviceId: identifier,
      csr: pem,
      certificate: pem,
      /** base64 of the ECDSA-SHA256 signature (DER) over the CSR's DER bytes, by the current key. */
      proof: z.base64().min(1).max(1024),
    })
    .strict(),
]);
export type EnrolmentBody = z.infer<typeof enrolmentSchema>;

export const serialParam = z
  .string()
  .regex(/^[0-9a-fA-F:-]{1,128}$/, 'must be a hexadecimal serial number')
  .transform(normalizeSerial);
