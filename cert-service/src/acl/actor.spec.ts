import { describe, expect, it } from 'vitest';
import { clientIdRelation, resolveActor } from './actor.js';

describe('resolveActor', () => {
  it.each([
    [
      'device with its own client id',
      'D1',
      'D1',
      { isDevice: true, service: null },
      { kind: 'device', id: 'D1' },
    ],
    ['device under another client id', 'D1', 'D2', { isDevice: true, service: null }, undefined],
    ['device with a suffixed client id', 'D1', 'D1:x', { isDevice: true, service: null }, undefined],
    [
      'service with a suffixed client id',
      'S',
      'S:ingest-1',
      { isDevice: false, service: ['ota'] },
      { kind: 'service', id: 'S', permissions: ['ota'] },
    ],
    ['service taking over a device client id', 'S', 'D1', { isDevice: false, service: ['ota'] }, undefined],
    ['user with its own client id', 'A', 'A', { isDevice: false, service: null }, { kind: 'user', id: 'A' }],
    [
      'user with a suffixed client id',
      'A',
      'A:phone',
      { isDevice: false, service: null },
      { kind: 'user', id: 'A' },
    ],
    ['user taking over a device session', 'A', 'D1', { isDevice: false, service: null }, undefined],
    [
      'user whose id only starts like the client id',
      'A',
      'AB',
      { isDevice: false, service: null },
      undefined,
    ],
  ] as const)('%s', (_name, username, clientId, known, expected) => {
    const actor = resolveActor(username, clientIdRelation(username, clientId), known);
    if (expected === undefined) expect(actor).toMatchObject({ allow: false });
    else expect(actor).toEqual(expected);
  });
});
