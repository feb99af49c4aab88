import { z } from 'zod';
import { readDeviceMessage } from './device-message.js';

/** Largest state payload recorded; a state is a snapshot for the app, not a log. */
export const MAX_STATE_BYTES = 4 * 1024;

/** What a washing machine can be doing; `delayed` waits for a delayed start, `updating` installs firmware. */
export const DEVICE_STATUSES = [
  'idle',
  'delayed',
  'running',
  'paused',
  'finished',
  'error',
  'updating',
] as const;

/**
 * What a device publishes, retained, on `devices/{id}/state`: one JSON object describing it now.
 * `time` is the device's clock when the state was true, `firmwareVersion` the running firmware
 * (kept as the device's firmware version), `status` what the machine is doing. Further fields
 * (door, remaining minutes, …) are the model's own and are kept as they are.
 */
export const deviceStateSchema = z
  .object({
    time: z.iso.datetime({ offset: true }).optional(),
    firmwareVersion: z
      .string()
      .regex(/^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/, 'must be major.minor.patch')
      .optional(),
    status: z.enum(DEVICE_STATUSES).optional(),
  })
  .catchall(z.json());

export type DeviceState = z.output<typeof deviceStateSchema>;

export interface IncomingState {
  deviceId: string;
  state: DeviceState;
  /** When the state was true: the device's time, or the receipt when it gave none (or one ahead of us). */
  at: Date;
  /** Replayed by the broker from its retained copy on (re)subscription, rather than just published. */
  replayed: boolean;
}

const TOPIC = /^devices\/([A-Za-z0-9][A-Za-z0-9._-]{0,127})\/state$/;

/** Whether a topic is a device's state topic (and so read as a state, not an event). */
export const isStateTopic = (topic: string): boolean => TOPIC.test(topic);

export type ParsedState = { state: IncomingState } | { deadLetter: string };

/** One message from `devices/+/state`: a state to record, or the reason it goes to the dead letters. */
export function parseStateMessage(
  topic: string,
  payload: Buffer,
  receivedAt: Date,
  retained = false,
): ParsedState {
  const read = readDeviceMessage(topic, payload, {
    pattern: TOPIC,
    channel: 'state',
    maxBytes: MAX_STATE_BYTES,
    schema: deviceStateSchema,
  });
  if ('deadLetter' in read) return read;
  const { deviceId, message: state } = read;
  const deviceTime = state.time === undefined ? undefined : new Date(state.time);
  // A device clock running ahead would otherwise pin a state that no later, correctly timed one
  // could replace ("never overwrite a newer state with an older one").
  const at = deviceTime && deviceTime.getTime() <= receivedAt.getTime() ? deviceTime : receivedAt;
  return { state: { deviceId, state, at, replayed: retained } };
}
