import { describe, expect, it } from 'vitest';
import { clientIdRelation, resolveActor } from './actor.js';

describe('resolveActor', () => {
  it.each([
    [
      'device with its own client id',
      'D1',
      'D1',
      { isDevice: true, isService: false },
      { kind: 'device', id: 'D1' },
    ],
    ['device under another client id', 'D1', 'D2', { isDevice: true, isService: false }, undefined],
    ['device with a suffixed client id', 'D1', 'D1:x', { isDevice: true, isService: false }, undefined],
    [
      'service with a suffixed client id',
      'S',
      'S:ingest-1',
      { isDevice: false, isService: true },
      { kind: 'service', id: 'S' },
    ],
    ['service taking over a device client id', 'S', 'D1', { isDevice: false, isService: true }, undefined],
    [
      'user with its own client id',
      'A',
      'A',
      { isDevice: false, isService: false },
      { kind: 'user', id: 'A' },
    ],
    [
      'user with a suffixed client id',
      'A',
      'A:phone',
      { isDevice: false, isService: false },
      { kind: 'user', id: 'A' },
    ],
    ['user taking over a device session', 'A', 'D1', { isDevice: false, isService: false }, undefined],
    [
      'user whose id only starts like the client id',
      'A',
      'AB',
      { isDevice: false, isService: false },
      undefined,
    ],
  ] as const)('%s', (_name, username, clientId, known, expected) => {
    const actor = resolveActor(username, clientIdRelation(username, clientId), known);
    if (expected === undefined) expect(actor).toMatchObject({ allow: false });
    else expect(actor).toEqual(expected);
  });
});
