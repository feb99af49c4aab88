import { Inject, Injectable } from '@nestjs/common';
import { LOGGER } from '@spincycle/common/nest';
import type { Logger } from '@spincycle/common';
import { CLIENT_ID_RELATIONS, clientIdRelation, resolveActor, type ClientIdRelation } from '../acl/actor.js';
import { AuthorizationCache } from '../acl/authorization-cache.js';
import { cacheTags, DecisionCache } from '../acl/decision-cache.js';
import {
  decideTopicAccess,
  DEVICE_CHANNELS,
  isDecision,
  isLiveGrant,
  parseDeviceTopic,
  type Action,
  type Decision,
  type DeviceTopic,
} from '../acl/topic-acl.js';
import { FactsRepository } from '../facts/facts.repository.js';
import { SecretHasher } from '../facts/secret-hasher.js';
import { identifier } from '../http/validation.js';
import { TokenIntrospector } from '../oauth/token-introspector.js';
import { CertificatesService } from '../pki/certificates.service.js';
import { andThen, type Awaitable } from './awaitable.js';
import type { PublishRequest, RegisterRequest, SubscribeRequest } from './webhook.schemas.js';

const refuse = (reason: string): Decision => ({ allow: false, reason });
const allow = (reason: string): Decision => ({ allow: true, reason });

/** Rewrites that make a device's publish follow the protocol (state retained, events at QoS 1). */
export type PublishModifiers = typeof RETAIN | typeof AT_LEAST_ONCE;
export const RETAIN: { readonly retain: true } = Object.freeze({ retain: true });
export const AT_LEAST_ONCE: { readonly qos: 1 } = Object.freeze({ qos: 1 });

export interface PublishDecision extends Decision {
  modifiers?: PublishModifiers;
}

const table = <K extends string, V>(keys: readonly K[], valueOf: (key: K) => V) =>
  Object.fromEntries(keys.map((key) => [key, valueOf(key)])) as Record<K, V>;

/**
 * What a topic decision's cache key says after identity and device, one string per combination
 * made here once: a lookup then concatenates nothing but the key itself.
 */
const SCOPES = table(['publish', 'subscribe'] as const, (action) =>
  table(DEVICE_CHANNELS, (channel) =>
    table(CLIENT_ID_RELATIONS, (relation) =>
      table(
        ['unshared', 'shared'] as const,
        (sharing) => `${action}:${channel}:${sharing === 'shared'}:${relation}`,
      ),
    ),
  ),
);

/**
 * The broker's questions answered: may this client connect, publish, subscribe. Facts come from
 * the repository (through the decision cache), rules from the pure ACL.
 */
@Injectable()
export class BrokerAuthorizer {
  constructor(
    private readonly facts: FactsRepository,
    private readonly cache: AuthorizationCache,
    private readonly hasher: SecretHasher,
    private readonly introspector: TokenIntrospector,
    private readonly certificates: CertificatesService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async register(request: RegisterRequest, now: number): Promise<Decision> {
    const username = request.username;
    const early = checkSession(request.mountpoint, username);
    if (early !== undefined) return early;
    const relation = clientIdRelation(username as string, request.client_id);
    const record = await this.facts.loadRegistration(username as string);
    const actor = resolveActor(username as string, relation, {
      isDevice: record.device !== null,
      service: record.service?.permissions ?? null,
    });
    if (isDecision(actor)) return actor;
    if (actor.kind === 'device' && record.device !== null) {
      if (record.device.status !== 'active') return refuse(`device ${record.device.status}`);
      if (!this.hasher.matches('mqtt-password', request.password, record.device.mqttPasswordHash)) {
        return refuse('wrong device password');
      }
      // The certificate is the device's identity; the password alone would admit anyone holding it
      // on a listener that takes no client certificate (WSS), or a device whose certificate was
      // revoked while its record stays active.
      if (request.client_cert === undefined) return refuse('device presented no client certificate');
      const der = Buffer.from(request.client_cert, 'base64');
      if (!(await this.certificates.acceptConnection(actor.id, der, new Date(now)))) {
        return refuse('device certificate unknown, revoked or expired');
      }
      return allow('device credentials');
    }
    if (actor.kind === 'service') {
      return this.hasher.matches('service-secret', request.password, record.service?.secretHash)
        ? allow('service credentials')
        : refuse('wrong service secret');
    }
    if (request.password === null || request.password === '') return refuse('no access token');
    const owner = await this.introspector.ownerOf(request.password, now);
    if (owner === undefined) return refuse('access token inactive, expired or not verifiable');
    if (owner.subject !== actor.id) return refuse('access token belongs to another user');
    return allow('access token');
  }

  publish(request: PublishRequest, now: number): Awaitable<PublishDecision> {
    return andThen(this.decideTopic(request, 'publish', request.topic, now), (decision) =>
      decision.allow ? withRewrites(request, decision) : decision,
    );
  }

  /** One answer per requested topic, in order: the granted QoS, or undefined when refused. */
  async subscribe(request: SubscribeRequest, now: number): Promise<(number | undefined)[]> {
    return Promise.all(
      request.topics.map(async ({ topic, qos }) => {
        const decision = await this.decideTopic(request, 'subscribe', topic, now);
        if (!decision.allow)
          this.logger.info(
            { clientId: request.client_id, topic, reason: decision.reason },
            'subscription refused',
          );
        return decision.allow ? qos : undefined;
      }),
    );
  }

  async setOnline(clientId: string, online: boolean): Promise<void> {
    if (identifier.safeParse(clientId).success) await this.facts.setOnline(clientId, online);
  }

  /** Answered from the decision cache without waiting when it holds the decision. */
  private decideTopic(
    request: { mountpoint: string; username: string | null; client_id: string },
    action: Action,
    topic: string,
    now: number,
  ): Awaitable<Decision> {
    const early = checkSession(request.mountpoint, request.username);
    if (early !== undefined) return early;
    const username = request.username as string;
    const parsed = parseDeviceTopic(action, topic);
    if (isDecision(parsed)) return parsed;
    const relation = clientIdRelation(username, request.client_id);
    const scope = SCOPES[action][parsed.channel][relation][parsed.shared ? 'shared' : 'unshared'];
    const key = DecisionCache.key(username, parsed.deviceId, scope);
    return (
      this.cache.decisions.get(key, now) ??
      this.decideFromFacts(username, relation, parsed, action, topic, key, now)
    );
  }

  private async decideFromFacts(
    username: string,
    relation: ClientIdRelation,
    parsed: DeviceTopic,
    action: Action,
    topic: string,
    key: string,
    now: number,
  ): Promise<Decision> {
    const decisions = this.cache.decisions;
    const generation = decisions.currentGeneration();
    const record = await this.facts.loadAccess(username, parsed.deviceId);
    const actor = resolveActor(username, relation, {
      isDevice: record.actorDevice !== null,
      service: record.actorService,
    });
    const at = new Date(now);
    const decision = isDecision(actor)
      ? actor
      : decideTopicAccess(actor, { device: record.device, grants: record.grants, now: at }, action, topic);
    // A decision resting on a live grant must not outlive it.
    const grantEnds = record.grants.filter((g) => isLiveGrant(g, at)).map((g) => g.expiresAt.getTime());
    decisions.set(key, [cacheTags.identity(username), cacheTags.device(parsed.deviceId)], decision, {
      now,
      notAfter: grantEnds.length > 0 ? Math.min(...grantEnds) : undefined,
      generation,
    });
    return decision;
  }
}

/** Only devices may publish state and events, so these rewrites only ever touch device messages. */
function withRewrites(request: PublishRequest, decision: Decision): PublishDecision {
  const channel = request.topic.slice(request.topic.lastIndexOf('/') + 1);
  if (channel === 'state' && !request.retain) return { ...decision, modifiers: RETAIN };
  if (channel === 'events' && request.qos === 0) return { ...decision, modifiers: AT_LEAST_ONCE };
  return decision;
}

/** Checks every hook shares: our mountpoint, and a username that can be an identity at all. */
function checkSession(mountpoint: string, username: string | null): Decision | undefined {
  if (mountpoint !== '') return refuse('foreign mountpoint');
  if (username === null) return refuse('no username');
  if (!identifier.safeParse(username).success) return refuse('malformed username');
  return undefined;
}
