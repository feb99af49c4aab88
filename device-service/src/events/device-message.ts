import type { z } from 'zod';

/**
 * Reads one device message as JSON against its schema, within a size limit; what fails says why,
 * in the words a dead letter keeps. The topic names the device: `pattern` captures its id.
 */
export function readDeviceMessage<T extends z.ZodType>(
  topic: string,
  payload: Buffer,
  options: { pattern: RegExp; channel: string; maxBytes: number; schema: T },
): { deviceId: string; message: z.output<T> } | { deadLetter: string } {
  const deviceId = options.pattern.exec(topic)?.[1];
  if (deviceId === undefined) return { deadLetter: `topic is not devices/{id}/${options.channel}` };
  if (payload.length > options.maxBytes) return { deadLetter: `payload exceeds ${options.maxBytes} bytes` };
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return { deadLetter: 'payload is not JSON' };
  }
  const result = options.schema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map(
      (i) => `${i.path.map(String).join('.') || 'payload'}: ${i.message}`,
    );
    return { deadLetter: problems.join('; ') };
  }
  return { deviceId, message: result.data };
}
