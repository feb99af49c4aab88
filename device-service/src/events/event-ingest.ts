import type { DevicesRepository } from '../devices/devices.repository.js';
import {
  PROVISIONED_EVENT,
  presentedToken,
  verifyPresentedTokens,
  withoutTokens,
  type PresentedToken,
} from '../first-connect/first-connect-token.js';
import type { ProvisioningSessionsRepository } from '../first-connect/provisioning-sessions.repository.js';
import { firmwareReport } from '../firmware/firmware-report.js';
import type { FirmwareRepository } from '../firmware/firmware.repository.js';
import type { SecretHasher } from '../secrets/secrets.js';
import { parseEventMessage } from './event.schema.js';
import type { DeadLetter, EventsRepository, IncomingEvent } from './events.repository.js';
import { isStateTopic, parseStateMessage, type IncomingState } from './state.schema.js';

export interface EventMessage {
  topic: string;
  payload: Buffer;
  receivedAt: Date;
  /** The broker's retain flag: set on a retained copy sent because of a (re)subscription. */
  retained?: boolean;
}

/** Where an ingested batch goes, all in one transaction (or one statement). */
export interface IngestStores {
  events: EventsRepository;
  devices: DevicesRepository;
  provisioning: ProvisioningSessionsRepository;
  firmware: FirmwareRepository;
  hasher: SecretHasher;
}

export interface IngestResult {
  stored: number;
  duplicates: number;
  deadLettered: number;
}

/**
 * Stores one batch of messages from `devices/+/events` and `devices/+/state`: valid events in one
 * multi-row insert, resends dropped by the unique (device, event id); each device's newest state;
 * the verdict on each provisioning token presented; everything unreadable kept as a dead letter
 * with its reason. All in one transaction (a batch of events alone in one statement), so the whole
 * batch can be acknowledged when it returns. Batches holding anything but events are written in the
 * order this is called (EventsRepository.writeBatch).
 */
export async function ingestBatch(
  stores: IngestStores,
  messages: readonly EventMessage[],
): Promise<IngestResult> {
  const valid: IncomingEvent[] = [];
  /** Each presentation, with the index of its event in `valid`. */
  const presented: (PresentedToken & { index: number })[] = [];
  const states = new Map<string, IncomingState>();
  const dead: DeadLetter[] = [];
  for (const message of messages) {
    if (isStateTopic(message.topic)) {
      const parsed = parseStateMessage(message.topic, message.payload, message.receivedAt, message.retained);
      if ('deadLetter' in parsed) dead.push({ ...message, reason: parsed.deadLetter });
      else if ((states.get(parsed.state.deviceId)?.at.getTime() ?? -Infinity) <= parsed.state.at.getTime())
        // Only the newest per device is worth a write; of equal times, the later message wins.
        states.set(parsed.state.deviceId, parsed.state);
      continue;
    }
    const parsed = parseEventMessage(message.topic, message.payload, message.receivedAt);
    if ('deadLetter' in parsed) {
      dead.push({ ...message, payload: withoutTokens(message.payload), reason: parsed.deadLetter });
      continue;
    }
    if (parsed.event.type === PROVISIONED_EVENT) {
      presented.push({
        index: valid.length,
        deviceId: parsed.event.deviceId,
        token: presentedToken(parsed.event.payload),
        presentedAt: parsed.event.receivedAt,
      });
    }
    valid.push(parsed.event);
  }
  const reports = valid.map(firmwareReport).filter((r) => r !== null);
  // Most batches are events and nothing else: one insert.
  const eventsOnly = states.size === 0 && presented.length === 0 && reports.length === 0 && dead.length === 0;
  return stores.events.writeBatch(
    async (manager) => {
      // Device rows before provisioning sessions, the order a release takes them in.
      await stores.devices.recordStates([...states.values()], manager);
      const verdicts = await verifyPresentedTokens(stores.provisioning, stores.hasher, presented, manager);
      // The token is a secret: the stored event says only whether it was accepted.
      const events = [...valid];
      presented.forEach(({ index }, i) => {
        events[index] = { ...valid[index]!, payload: { accepted: verdicts[i] === true } };
      });
      const stored = await stores.events.insertBatch(events, manager);
      await stores.firmware.applyReports(reports, manager);
      await stores.events.insertDeadLetters(dead, manager);
      return { stored, duplicates: valid.length - stored, deadLettered: dead.length };
    },
    eventsOnly ? 'events' : 'ordered',
  );
}
