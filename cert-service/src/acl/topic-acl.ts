/**
 * The broker's topic ACL: who may publish or subscribe to which topic. A pure function of the
 * acting identity, the facts about the device the topic names, the action and the topic; it does
 * no I/O, so the decision cache and the fact loader wrap it and every rule is tested by table.
 * The topic scheme is written down in docs/protocol.md.
 */

export type DeviceStatus = 'active' | 'suspended' | 'revoked';
export type GrantScope = 'read' | 'control';
export type Action = 'publish' | 'subscribe';
export type Channel = 'state' | 'events' | 'commands' | 'ota';

/**
 * What a backend service identity may do, set when it registers: `ingest` subscribes every
 * device's state and events, `commands` and `ota` publish to those channels. Least privilege: the
 * certificate renewal notifier holds `ota` only, so its secret cannot read what devices report.
 */
export type ServicePermission = 'ingest' | 'commands' | 'ota';
export const SERVICE_PERMISSIONS: readonly ServicePermission[] = ['ingest', 'commands', 'ota'];

export type Identity =
  | { kind: 'device'; id: string }
  | { kind: 'user'; id: string }
  | { kind: 'service'; id: string; permissions: readonly ServicePermission[] };

export interface DeviceFacts {
  id: string;
  status: DeviceStatus;
  ownerId: string | null;
}

export interface GrantFacts {
  scope: GrantScope;
  expiresAt: Date;
  revoked: boolean;
}

/** What the decision needs to know about the device a topic names, from the actor's side. */
export interface AccessFacts {
  /** The device named by the topic; null when it is unknown (or the topic names every device). */
  device: DeviceFacts | null;
  /** The actor's technician grants on that device, live or not. */
  grants: readonly GrantFacts[];
  now: Date;
}

export interface Decision {
  allow: boolean;
  /** Why, for the log line; never shown to the client. */
  reason: string;
}

/** A topic that names one device channel, or every device's channel ("+"), maybe in a share group. */
export interface DeviceTopic {
  deviceId: string;
  channel: Channel;
  shared: boolean;
}

export const MAX_TOPIC_BYTES = 256;
export const ANY_DEVICE = '+';

export const DEVICE_CHANNELS: readonly Channel[] = ['state', 'events', 'commands', 'ota'];
const CHANNELS: ReadonlySet<string> = new Set<Channel>(DEVICE_CHANNELS);
const DEVICE_PUBLISHES: ReadonlySet<Channel> = new Set<Channel>(['state', 'events']);
const DEVICE_SUBSCRIBES: ReadonlySet<Channel> = new Set<Channel>(['commands', 'ota']);
const READ_CHANNELS: ReadonlySet<Channel> = new Set<Channel>(['state', 'events']);
const SERVICE_SUBSCRIBES: ReadonlySet<Channel> = new Set<Channel>(['state', 'events']);
/** The permission a service needs to publish on a channel; channels not listed it never may. */
const SERVICE_PUBLISHES: ReadonlyMap<Channel, ServicePermission> = new Map<Channel, ServicePermission>([
  ['commands', 'commands'],
  ['ota', 'ota'],
]);

const allow = (reason: string): Decision => ({ allow: true, reason });
const refuse = (reason: string): Decision => ({ allow: false, reason });

/**
 * Reads a topic (publish) or topic filter (subscribe) as a device topic, or says why it is not
 * one. Only `devices/<id>/<channel>` exists; a subscription may name every device with `+` and be
 * a `$share/<group>/` subscription, which only the service identity is then allowed to hold.
 */
export function parseDeviceTopic(action: Action, topic: string): DeviceTopic | Decision {
  if (topic.length === 0) return refuse('empty topic');
  if (Buffer.byteLength(topic, 'utf8') > MAX_TOPIC_BYTES) return refuse('topic too long');
  if (topic.includes('\u0000')) return refuse('topic contains NUL');
  let filter = topic;
  let shared = false;
  if (action === 'subscribe' && topic.startsWith('$share/')) {
    const rest = topic.slice('$share/'.length);
    const slash = rest.indexOf('/');
    const group = slash > 0 ? rest.slice(0, slash) : '';
    if (group === '' || /[+#]/.test(group)) return refuse('malformed shared subscription');
    filter = rest.slice(slash + 1);
    shared = true;
  }
  if (filter.startsWith('$')) return refuse('system topic');
  if (action === 'publish' && /[+#]/.test(filter)) return refuse('wildcard in publish topic');
  const levels = filter.split('/');
  if (levels.length !== 3 || levels[0] !== 'devices') return refuse('not a device topic');
  const [, deviceId = '', channel = ''] = levels;
  if (!CHANNELS.has(channel)) return refuse('unknown device channel');
  if (deviceId === '') return refuse('empty device id');
  if (deviceId !== ANY_DEVICE && /[+#]/.test(deviceId)) return refuse('wildcard inside a device id');
  return { deviceId, channel: channel as Channel, shared };
}

export function isDecision<T extends object>(value: T | Decision): value is Decision {
  return 'allow' in value;
}

export function isLiveGrant(grant: GrantFacts, now: Date): boolean {
  return !grant.revoked && grant.expiresAt.getTime() > now.getTime();
}

/** Decides one publish or one subscription to one topic. */
export function decideTopicAccess(
  identity: Identity,
  facts: AccessFacts,
  action: Action,
  topic: string,
): Decision {
  const parsed = parseDeviceTopic(action, topic);
  if (isDecision(parsed)) return parsed;
  if (identity.kind === 'service') return decideForService(identity.permissions, parsed, action);
  // Only the backend's shared ingestion may span devices or share a subscription.
  if (parsed.deviceId === ANY_DEVICE) return refuse('wildcard spanning devices');
  if (parsed.shared) return refuse('shared subscription');
  const device = facts.device;
  if (device === null || device.id !== parsed.deviceId) return refuse('unknown device');
  if (device.status !== 'active') return refuse(`device ${device.status}`);
  if (identity.kind === 'device') return decideForDevice(identity.id, parsed, action);
  return decideForUser(identity.id, device, facts, parsed.channel, action);
}

function decideForService(
  permissions: readonly ServicePermission[],
  topic: DeviceTopic,
  action: Action,
): Decision {
  if (action === 'subscribe') {
    if (topic.deviceId !== ANY_DEVICE || !SERVICE_SUBSCRIBES.has(topic.channel)) {
      return refuse('service subscribes only devices/+/state and devices/+/events');
    }
    return permissions.includes('ingest')
      ? allow('service ingestion subscription')
      : refuse('service lacks the ingest permission');
  }
  const needed = SERVICE_PUBLISHES.get(topic.channel);
  if (needed === undefined) return refuse('service publishes only commands and ota');
  return permissions.includes(needed)
    ? allow('service publishes to devices')
    : refuse(`service lacks the ${needed} permission`);
}

function decideForDevice(deviceId: string, topic: DeviceTopic, action: Action): Decision {
  if (topic.deviceId !== deviceId) return refuse("another device's topic");
  const allowed = action === 'publish' ? DEVICE_PUBLISHES : DEVICE_SUBSCRIBES;
  return allowed.has(topic.channel)
    ? allow(`device ${action}es its own ${topic.channel}`)
    : refuse(`device may not ${action} ${topic.channel}`);
}

function decideForUser(
  userId: string,
  device: DeviceFacts,
  facts: AccessFacts,
  channel: Channel,
  action: Action,
): Decision {
  const wantsControl = action === 'publish';
  if (wantsControl ? channel !== 'commands' : !READ_CHANNELS.has(channel)) {
    return refuse(`users may not ${action} ${channel}`);
  }
  if (device.ownerId === userId) return allow('owner');
  const live = facts.grants.filter((grant) => isLiveGrant(grant, facts.now));
  if (live.length === 0) {
    return refuse(facts.grants.length > 0 ? 'grant expired or revoked' : 'neither owner nor grantee');
  }
  if (!wantsControl) return allow('live technician grant');
  return live.some((grant) => grant.scope === 'control')
    ? allow('live technician control grant')
    : refuse('grant does not include control');
}
