import { z } from 'zod';
import { readDeviceMessage } from './device-message.js';
import type { IncomingEvent } from './events.repository.js';

/** Largest event payload stored; anything longer is a dead letter. */
export const MAX_EVENT_BYTES = 16 * 1024;

/**
 * What a device publishes on `devices/{id}/events` (QoS 1):
 * `{"id": "<unique per device>", "type": "cycle.finished", "time": "<ISO 8601>", "data": {…}}`.
 * `id` makes a resend after a lost acknowledgement recognisable; `time` is the device's clock.
 */
export const eventMessageSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1-128 letters, digits, ".", "_", ":" or "-"'),
    type: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,3}$/, 'must be dotted lower-case words'),
    time: z.iso.datetime({ offset: true }).optional(),
    data: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

const TOPIC = /^devices\/([A-Za-z0-9][A-Za-z0-9._-]{0,127})\/events$/;

export type ParsedMessage = { event: IncomingEvent } | { deadLetter: string };

/** One MQTT message: a storable event, or the reason it goes to the dead letters. */
export function parseEventMessage(topic: string, payload: Buffer, receivedAt: Date): ParsedMessage {
  const read = readDeviceMessage(topic, payload, {
    pattern: TOPIC,
    channel: 'events',
    maxBytes: MAX_EVENT_BYTES,
    schema: eventMessageSchema,
  });
  if ('deadLetter' in read) return read;
  const { deviceId } = read;
  const { id, type, time, data } = read.message;
  return {
    event: {
      deviceId,
      eventId: id,
      type,
      payload: data,
      deviceTime: time ? new Date(time) : null,
      receivedAt,
    },
  };
}
