import { describe, expect, it } from 'vitest';
import { accessFactsOf, identityOf, loadAclContract } from '../../test/support/acl-contract.js';
import {
  decideTopicAccess,
  isDecision,
  parseDeviceTopic,
  type AccessFacts,
  type Action,
  type Identity,
} from './topic-acl.js';

const now = new Date('2026-06-01T12:00:00Z');
const later = new Date('2026-07-01T12:00:00Z');
const earlier = new Date('2026-05-01T12:00:00Z');

const device = (
  id: string,
  ownerId: string | null = 'A',
  status: 'active' | 'revoked' | 'suspended' = 'active',
) => ({
  id,
  status,
  ownerId,
});
const facts = (partial: Partial<AccessFacts> = {}): AccessFacts => ({
  device: null,
  grants: [],
  now,
  ...partial,
});

const D1: Identity = { kind: 'device', id: 'D1' };
const A: Identity = { kind: 'user', id: 'A' };
const T: Identity = { kind: 'user', id: 'T' };
const S: Identity = { kind: 'service', id: 'S', permissions: ['ingest', 'commands', 'ota'] };
/** The certificate renewal notifier: it offers renewals on the ota topic and does nothing else. */
const R: Identity = { kind: 'service', id: 'R', permissions: ['ota'] };
const I: Identity = { kind: 'service', id: 'I', permissions: ['ingest'] };

type Row = [string, Identity, AccessFacts, Action, string, boolean];

const rows: Row[] = [
  [
    'device publishes its retained state',
    D1,
    facts({ device: device('D1') }),
    'publish',
    'devices/D1/state',
    true,
  ],
  ['device publishes its events', D1, facts({ device: device('D1') }), 'publish', 'devices/D1/events', true],
  [
    'device subscribes its commands',
    D1,
    facts({ device: device('D1') }),
    'subscribe',
    'devices/D1/commands',
    true,
  ],
  ['device subscribes its ota', D1, facts({ device: device('D1') }), 'subscribe', 'devices/D1/ota', true],
  [
    'device may not publish its own commands',
    D1,
    facts({ device: device('D1') }),
    'publish',
    'devices/D1/commands',
    false,
  ],
  [
    'device may not subscribe its own state',
    D1,
    facts({ device: device('D1') }),
    'subscribe',
    'devices/D1/state',
    false,
  ],
  [
    "device may not touch another device's topic",
    D1,
    facts({ device: device('D2') }),
    'publish',
    'devices/D2/state',
    false,
  ],
  [
    'suspended device is refused',
    D1,
    facts({ device: device('D1', 'A', 'suspended') }),
    'publish',
    'devices/D1/state',
    false,
  ],
  [
    'revoked device is refused',
    D1,
    facts({ device: device('D1', 'A', 'revoked') }),
    'publish',
    'devices/D1/events',
    false,
  ],
  ['device unknown to the facts is refused', D1, facts(), 'publish', 'devices/D1/state', false],
  [
    'device may not subscribe with a wildcard',
    D1,
    facts({ device: device('D1') }),
    'subscribe',
    'devices/D1/#',
    false,
  ],
  [
    'device may not use a shared subscription',
    D1,
    facts({ device: device('D1') }),
    'subscribe',
    '$share/g/devices/D1/commands',
    false,
  ],
  ['owner subscribes state', A, facts({ device: device('D1') }), 'subscribe', 'devices/D1/state', true],
  ['owner subscribes events', A, facts({ device: device('D1') }), 'subscribe', 'devices/D1/events', true],
  ['owner publishes commands', A, facts({ device: device('D1') }), 'publish', 'devices/D1/commands', true],
  ['owner may not publish state', A, facts({ device: device('D1') }), 'publish', 'devices/D1/state', false],
  ['owner may not publish ota', A, facts({ device: device('D1') }), 'publish', 'devices/D1/ota', false],
  [
    'owner may not subscribe commands',
    A,
    facts({ device: device('D1') }),
    'subscribe',
    'devices/D1/commands',
    false,
  ],
  [
    'owner may not read a revoked device',
    A,
    facts({ device: device('D1', 'A', 'revoked') }),
    'subscribe',
    'devices/D1/state',
    false,
  ],
  ['stranger may not read', A, facts({ device: device('D2', 'B') }), 'subscribe', 'devices/D2/state', false],
  [
    'unclaimed device belongs to nobody',
    A,
    facts({ device: device('D3', null) }),
    'publish',
    'devices/D3/commands',
    false,
  ],
  ['user wildcard across devices', A, facts(), 'subscribe', 'devices/+/state', false],
  ['user wildcard across channels', A, facts({ device: device('D1') }), 'subscribe', 'devices/D1/+', false],
  ['user multi-level wildcard', A, facts(), 'subscribe', 'devices/#', false],
  ['$SYS', A, facts(), 'subscribe', '$SYS/#', false],
  ['$SYS publish', S, facts(), 'publish', '$SYS/broker/x', false],
  ['empty topic', A, facts(), 'subscribe', '', false],
  [
    'topic of 257 bytes',
    S,
    facts(),
    'publish',
    `devices/${'x'.repeat(257 - 'devices//ota'.length)}/ota`,
    false,
  ],
  [
    'topic of 256 bytes is not too long',
    S,
    facts(),
    'publish',
    `devices/${'x'.repeat(256 - 'devices//ota'.length)}/ota`,
    true,
  ],
  ['multi-byte characters count as bytes', S, facts(), 'publish', `devices/${'é'.repeat(123)}/ota`, false],
  ['wildcard in a publish topic', S, facts(), 'publish', 'devices/+/ota', false],
  ['hash in a publish topic', A, facts({ device: device('D1') }), 'publish', 'devices/D1/commands/#', false],
  ['partial wildcard in a device id', S, facts(), 'subscribe', 'devices/D+/events', false],
  ['extra topic level', A, facts({ device: device('D1') }), 'publish', 'devices/D1/commands/x', false],
  ['unknown channel', A, facts({ device: device('D1') }), 'subscribe', 'devices/D1/logs', false],
  ['other top level', S, facts(), 'subscribe', 'users/+/events', false],
  [
    'technician with live read grant reads',
    T,
    facts({ device: device('D1'), grants: [{ scope: 'read', expiresAt: later, revoked: false }] }),
    'subscribe',
    'devices/D1/events',
    true,
  ],
  [
    'technician with read grant may not command',
    T,
    facts({ device: device('D1'), grants: [{ scope: 'read', expiresAt: later, revoked: false }] }),
    'publish',
    'devices/D1/commands',
    false,
  ],
  [
    'technician with live control grant commands',
    T,
    facts({ device: device('D1'), grants: [{ scope: 'control', expiresAt: later, revoked: false }] }),
    'publish',
    'devices/D1/commands',
    true,
  ],
  [
    'control grant also reads',
    T,
    facts({ device: device('D1'), grants: [{ scope: 'control', expiresAt: later, revoked: false }] }),
    'subscribe',
    'devices/D1/state',
    true,
  ],
  [
    'expired control grant',
    T,
    facts({ device: device('D1'), grants: [{ scope: 'control', expiresAt: earlier, revoked: false }] }),
    'publish',
    'devices/D1/commands',
    false,
  ],
  [
    'grant expiring this instant is expired',
    T,
    facts({ device: device('D1'), grants: [{ scope: 'read', expiresAt: now, revoked: false }] }),
    'subscribe',
    'devices/D1/state',
    false,
  ],
  [
    'revoked control grant',
    T,
    facts({ device: device('D1'), grants: [{ scope: 'control', expiresAt: later, revoked: true }] }),
    'publish',
    'devices/D1/commands',
    false,
  ],
  [
    'live read grant beside an expired control grant',
    T,
    facts({
      device: device('D1'),
      grants: [
        { scope: 'read', expiresAt: later, revoked: false },
        { scope: 'control', expiresAt: earlier, revoked: false },
      ],
    }),
    'publish',
    'devices/D1/commands',
    false,
  ],
  ['service ingests every device events', S, facts(), 'subscribe', 'devices/+/events', true],
  ['service ingests every device state', S, facts(), 'subscribe', 'devices/+/state', true],
  ['service ingests in a share group', S, facts(), 'subscribe', '$share/ingest/devices/+/events', true],
  ['service may not read every command', S, facts(), 'subscribe', 'devices/+/commands', false],
  ['service may not subscribe everything', S, facts(), 'subscribe', '#', false],
  ['share group without a name', S, facts(), 'subscribe', '$share//devices/+/events', false],
  ['service publishes commands', S, facts(), 'publish', 'devices/D2/commands', true],
  ['service publishes ota', S, facts(), 'publish', 'devices/D2/ota', true],
  ['service may not forge device state', S, facts(), 'publish', 'devices/D2/state', false],
  ['ota-only service publishes ota', R, facts(), 'publish', 'devices/D2/ota', true],
  ['ota-only service may not read events', R, facts(), 'subscribe', 'devices/+/events', false],
  ['ota-only service may not read state', R, facts(), 'subscribe', '$share/g/devices/+/state', false],
  ['ota-only service may not send commands', R, facts(), 'publish', 'devices/D2/commands', false],
  ['ingest-only service reads events', I, facts(), 'subscribe', 'devices/+/events', true],
  ['ingest-only service may not send commands', I, facts(), 'publish', 'devices/D2/commands', false],
  ['ingest-only service may not offer firmware', I, facts(), 'publish', 'devices/D2/ota', false],
];

describe('decideTopicAccess', () => {
  it.each(rows)('%s', (_name, identity, access, action, topic, allowed) => {
    expect(decideTopicAccess(identity, access, action, topic).allow).toBe(allowed);
  });

  describe('agrees with every publish and subscribe case of the shared ACL table', () => {
    const contract = loadAclContract();
    type TopicCase = [actor: string, action: 'publish' | 'subscribe', topic: string, allowed: boolean];
    const topicCases = contract.cases.flatMap((c): TopicCase[] => {
      if (c.hook === 'auth_on_publish') return [[c.actor, 'publish', c.topic, c.expect === 'ok']];
      if (c.hook === 'auth_on_subscribe') {
        return c.topics.map((topic, i): TopicCase => [c.actor, 'subscribe', topic, c.expect[i] !== 128]);
      }
      return [];
    });
    it.each(topicCases)('%s %s %s', (actor, action, topic, allowed) => {
      const parsed = parseDeviceTopic(action, topic);
      const deviceId = isDecision(parsed) ? '' : parsed.deviceId;
      const decision = decideTopicAccess(
        identityOf(contract, actor),
        accessFactsOf(contract, actor, deviceId, now),
        action,
        topic,
      );
      expect(decision.allow).toBe(allowed);
    });
  });
});
