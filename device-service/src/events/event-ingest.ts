import { parseEventMessage } from './event.schema.js';
import type { DeadLetter, EventsRepository, IncomingEvent } from './events.repository.js';

export interface EventMessage {
  topic: string;
  payload: Buffer;
  receivedAt: Date;
}

export interface IngestResult {
  stored: number;
  duplicates: number;
  deadLettered: number;
}

/**
 * Stores one batch of messages from `devices/+/events`: valid events in one multi-row insert,
 * resends dropped by the unique (device, event id), everything unreadable kept as a dead letter
 * with its reason. All in one transaction, so the whole batch can be acknowledged when it returns.
 */
export async function ingestBatch(
  events: EventsRepository,
  messages: readonly EventMessage[],
): Promise<IngestResult> {
  const valid: IncomingEvent[] = [];
  const dead: DeadLetter[] = [];
  for (const message of messages) {
    const parsed = parseEventMessage(message.topic, message.payload, message.receivedAt);
    if ('event' in parsed) valid.push(parsed.event);
    else dead.push({ ...message, reason: parsed.deadLetter });
  }
  const stored = await events.storeBatch(valid, dead);
  return { stored, duplicates: valid.length - stored, deadLettered: dead.length };
}
