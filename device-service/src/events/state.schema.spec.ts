import { describe, expect, it } from 'vitest';
import { MAX_STATE_BYTES, parseStateMessage } from './state.schema.js';

const receivedAt = new Date('2026-04-01T10:00:00.000Z');
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const TOPIC = 'devices/dev-1/state';

describe('parseStateMessage', () => {
  it('reads a state, keeping the fields of the model as they are', () => {
    const state = {
      time: '2026-04-01T11:59:58+02:00',
      firmwareVersion: '1.4.2',
      status: 'running',
      program: 'eco',
      remainingMinutes: 42,
      door: { locked: true },
      faults: [],
    };
    expect(parseStateMessage(TOPIC, json(state), receivedAt)).toEqual({
      state: { deviceId: 'dev-1', state, at: new Date('2026-04-01T09:59:58Z'), replayed: false },
    });
  });

  it('takes the receipt as its time when the device gives none', () => {
    expect(parseStateMessage(TOPIC, json({ status: 'idle' }), receivedAt)).toMatchObject({
      state: { at: receivedAt },
    });
  });

  it('takes the receipt as its time when the device clock runs ahead', () => {
    expect(parseStateMessage(TOPIC, json({ time: '2027-01-01T00:00:00Z' }), receivedAt)).toMatchObject({
      state: { at: receivedAt, state: { time: '2027-01-01T00:00:00Z' } },
    });
  });

  it("marks the broker's retained replay", () => {
    expect(parseStateMessage(TOPIC, json({}), receivedAt, true)).toMatchObject({ state: { replayed: true } });
  });

  it.each(['idle', 'delayed', 'running', 'paused', 'finished', 'error', 'updating'])(
    'knows the status %s',
    (status) => {
      expect(parseStateMessage(TOPIC, json({ status }), receivedAt)).toHaveProperty('state');
    },
  );

  it('takes a state of exactly the largest size', () => {
    const base = JSON.stringify({ pad: '' });
    const state = { pad: 'x'.repeat(MAX_STATE_BYTES - base.length) };
    expect(json(state)).toHaveLength(MAX_STATE_BYTES);
    expect(parseStateMessage(TOPIC, json(state), receivedAt)).toHaveProperty('state');
  });

  it.each([
    ['another topic', 'devices/dev-1/events', json({}), /topic/],
    ['a wildcard in the topic', 'devices/+/state', json({}), /topic/],
    ['an extra topic level', 'devices/dev-1/state/x', json({}), /topic/],
    ['a payload that is not JSON', TOPIC, Buffer.from('{"status":'), /not JSON/],
    ['a JSON array', TOPIC, json([{ status: 'idle' }]), /^payload:/],
    ['JSON null', TOPIC, json(null), /^payload:/],
    ['a string', TOPIC, json('idle'), /^payload:/],
    ['an unknown status', TOPIC, json({ status: 'spinning' }), /^status:/],
    ['a status in capitals', TOPIC, json({ status: 'IDLE' }), /^status:/],
    ['a time without offset', TOPIC, json({ time: '2026-04-01 10:00' }), /^time:/],
    ['a time that is a number', TOPIC, json({ time: 1_775_037_600 }), /^time:/],
    ['a firmware version of two parts', TOPIC, json({ firmwareVersion: '1.4' }), /^firmwareVersion:/],
    ['a firmware version with a suffix', TOPIC, json({ firmwareVersion: '1.4.2-rc1' }), /^firmwareVersion:/],
    [
      'a firmware version with leading zeros',
      TOPIC,
      json({ firmwareVersion: '01.4.2' }),
      /^firmwareVersion:/,
    ],
    ['a firmware version that is a number', TOPIC, json({ firmwareVersion: 1.4 }), /^firmwareVersion:/],
    [
      'an oversized payload',
      TOPIC,
      json({ status: 'idle', blob: 'x'.repeat(MAX_STATE_BYTES) }),
      new RegExp(`exceeds ${MAX_STATE_BYTES} bytes`),
    ],
  ])('sends %s to the dead letters with the reason', (_what, topic, payload, reason) => {
    const parsed = parseStateMessage(topic, payload, receivedAt);
    expect(parsed).toHaveProperty('deadLetter');
    expect((parsed as { deadLetter: string }).deadLetter).toMatch(reason);
  });
});
