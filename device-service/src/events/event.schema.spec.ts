import { describe, expect, it } from 'vitest';
import { MAX_EVENT_BYTES, parseEventMessage } from './event.schema.js';

const receivedAt = new Date('2026-04-01T10:00:00.000Z');
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('parseEventMessage', () => {
  it('reads a device event', () => {
    const parsed = parseEventMessage(
      'devices/dev-1/events',
      json({
        id: 'e-1',
        type: 'cycle.finished',
        time: '2026-04-01T09:59:58+02:00',
        data: { program: 'eco' },
      }),
      receivedAt,
    );
    expect(parsed).toEqual({
      event: {
        deviceId: 'dev-1',
        eventId: 'e-1',
        type: 'cycle.finished',
        payload: { program: 'eco' },
        deviceTime: new Date('2026-04-01T07:59:58Z'),
        receivedAt,
      },
    });
  });

  it('takes an event without device time or data', () => {
    expect(
      parseEventMessage('devices/dev-1/events', json({ id: 'e-2', type: 'door.opened' }), receivedAt),
    ).toMatchObject({
      event: { deviceTime: null, payload: {} },
    });
  });

  it.each([
    ['another topic', 'devices/dev-1/state', json({ id: 'e', type: 'a' }), /topic/],
    ['a wildcard in the topic', 'devices/+/events', json({ id: 'e', type: 'a' }), /topic/],
    ['a payload that is not JSON', 'devices/dev-1/events', Buffer.from('{"id":'), /not JSON/],
    ['a JSON array', 'devices/dev-1/events', json([1, 2]), /payload/],
    ['no event id', 'devices/dev-1/events', json({ type: 'a' }), /^id:/],
    ['an event id with a slash', 'devices/dev-1/events', json({ id: 'a/b', type: 'a' }), /^id:/],
    ['a type in capitals', 'devices/dev-1/events', json({ id: 'e', type: 'Cycle' }), /^type:/],
    [
      'a time without offset',
      'devices/dev-1/events',
      json({ id: 'e', type: 'a', time: '2026-04-01 10:00' }),
      /^time:/,
    ],
    ['data that is not an object', 'devices/dev-1/events', json({ id: 'e', type: 'a', data: 3 }), /^data:/],
    ['an unknown field', 'devices/dev-1/events', json({ id: 'e', type: 'a', extra: 1 }), /extra|payload/],
    [
      'an oversized payload',
      'devices/dev-1/events',
      json({ id: 'e', type: 'a', data: { blob: 'x'.repeat(MAX_EVENT_BYTES) } }),
      /exceeds/,
    ],
  ])('sends %s to the dead letters with the reason', (_what, topic, payload, reason) => {
    const parsed = parseEventMessage(topic, payload, receivedAt);
    expect(parsed).toHaveProperty('deadLetter');
    expect((parsed as { deadLetter: string }).deadLetter).toMatch(reason);
  });
});
