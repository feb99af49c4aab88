import type { Decision, Identity, ServicePermission } from './topic-acl.js';

/** How a connection's client id relates to its username. */
export type ClientIdRelation = 'same' | 'prefixed' | 'other';
export const CLIENT_ID_RELATIONS: readonly ClientIdRelation[] = ['same', 'prefixed', 'other'];

const COLON = ':'.charCodeAt(0);

export function clientIdRelation(username: string, clientId: string): ClientIdRelation {
  if (clientId === username) return 'same';
  // Compared in place: building `${username}:` would allocate on every publish of a user's app.
  return clientId.length > username.length &&
    clientId.charCodeAt(username.length) === COLON &&
    clientId.startsWith(username)
    ? 'prefixed'
    : 'other';
}

/**
 * Who a username is. Devices and services are the usernames cert-service holds records for;
 * anyone else is an app user (whose token was checked at connect). A device's client id must be
 * its id; users and services may run several connections as "<username>:<suffix>". Any other
 * client id is refused, because MQTT lets a client id take over the session that holds it.
 */
export function resolveActor(
  username: string,
  relation: ClientIdRelation,
  /** `service` holds the permissions of a registered service credential, null for anyone else. */
  known: { isDevice: boolean; service: readonly ServicePermission[] | null },
): Identity | Decision {
  if (known.isDevice) {
    return relation === 'same'
      ? { kind: 'device', id: username }
      : { allow: false, reason: 'device client id differs from username' };
  }
  if (relation === 'other') return { allow: false, reason: 'client id not owned by username' };
  return known.service !== null
    ? { kind: 'service', id: username, permissions: known.service }
    : { kind: 'user', id: username };
}
