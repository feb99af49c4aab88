import type { AedesOptions, AuthenticateError, Client } from 'aedes';
import type { Logger } from '@spincycle/common';
import type { BrokerMetrics } from '../metrics.js';
import { WebhookFailure, type WebhookClient } from '../webhooks/client.js';
import { publishCacheKey } from '../webhooks/cache.js';
import {
  publishResponse,
  registerResponse,
  subscribeResponse,
  type PublishRequest,
  type PublishResponse,
  type RegisterRequest,
  type SubscribeRequest,
} from '../webhooks/contract.js';
import { connectionInfo, type ConnectionInfo } from './connection-info.js';
import { publishDecision, registerDecision, subscribeDecision } from './decisions.js';
import { TokenBucket } from './rate-limit.js';

/** CONNACK return code 5 of MQTT 3.1.1: what VerneMQ answers to any webhook refusal or error. */
const NOT_AUTHORIZED = 5;
const MOUNTPOINT = '';

export interface AuthorizerOptions {
  webhooks: WebhookClient;
  metrics: BrokerMetrics;
  logger: Logger;
  maxPublishPerSecond: number;
  maxPacketBytes: number;
  maxInflightMessages: number;
}

type PublishPacket = { topic: string; payload: Buffer | string; qos: 0 | 1 | 2; retain: boolean };

/** What the broker remembers of an admitted client. */
export interface Session {
  username: string | null;
  info: ConnectionInfo;
  publishes: TokenBucket;
  maxMessageSize: number;
  /** QoS 1 and 2 publishes received and still waiting for their authorization. */
  inflight: number;
  /**
   * The decision cache key of the session's last publish. A device publishes to the same topic
   * over and over; the same string each time also spares the cache hashing and comparing it anew.
   */
  lastPublish?: { topic: string; qos: 0 | 1 | 2; retain: boolean; key: string };
}

/**
 * Every connect, publish and subscribe is decided by cert-service through the VerneMQ webhooks;
 * the broker only applies the answer. A missing, late or malformed answer refuses (fail closed).
 */
export class Authorizer {
  private readonly sessions = new WeakMap<Client, Session>();

  constructor(private readonly options: AuthorizerOptions) {}

  session(client: Client): Session | undefined {
    return this.sessions.get(client);
  }

  hooks(): Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'> {
    return {
      authenticate: (client, username, password, done) => {
        void this.authenticate(client, username, password).then((ok) => {
          if (ok) return done(null, true);
          const error = Object.assign(new Error('not authorized'), { returnCode: NOT_AUTHORIZED });
          done(error as AuthenticateError, false);
        });
      },
      authorizePublish: (client, packet, done) => {
        // Messages the broker itself publishes (wills are checked when registered) have no client.
        if (!client) return done(null);
        this.authorizePublish(client, packet, done);
      },
      authorizeSubscribe: (client, subscription, done) => {
        void this.authorizeSubscribe(client, subscription).then((granted) => done(null, granted));
      },
    };
  }

  private refuse(action: string, reason: string, fields: Record<string, unknown>): void {
    this.options.metrics.refusals.inc({ action, reason });
    this.options.logger.info({ action, reason, ...fields }, 'refused');
  }

  private reasonOf(err: unknown): string {
    return err instanceof WebhookFailure ? `webhook_${err.reason}` : 'webhook_unreachable';
  }

  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<boolean> {
    const info = connectionInfo(client.conn);
    if (!info) {
      this.refuse('connect', 'unknown_listener', { clientId: client.id });
      return false;
    }
    // VerneMQ's use_identity_as_username: on the device listener the certificate's CN replaces
    // whatever username the client sent, and the password is still checked by the webhook.
    const effectiveUsername = info.certificate ? info.certificate.commonName : (username ?? null);
    const request: RegisterRequest = {
      peer_addr: info.peerAddr,
      peer_port: info.peerPort,
      mountpoint: MOUNTPOINT,
      client_id: client.id,
      username: effectiveUsername,
      password: password ? password.toString('utf8') : null,
      clean_session: client.clean,
      ...(info.certificate ? { client_cert: info.certificate.der.toString('base64') } : {}),
      listener_addr: info.listenerAddr,
      listener_port: info.listenerPort,
      listener_type: info.listenerType,
    };
    try {
      const decision = registerDecision(
        await this.options.webhooks.call('auth_on_register', request, registerResponse),
      );
      if (!decision.allowed) {
        this.refuse('connect', decision.reason, { clientId: client.id, username: effectiveUsername });
        return false;
      }
      this.sessions.set(client, {
        username: effectiveUsername,
        info,
        publishes: new TokenBucket(this.options.maxPublishPerSecond, this.options.maxPublishPerSecond * 2),
        maxMessageSize: Math.min(decision.value.maxMessageSize ?? Infinity, this.options.maxPacketBytes),
        inflight: 0,
      });
      return true;
    } catch (err) {
      this.refuse('connect', this.reasonOf(err), { clientId: client.id, detail: (err as Error).message });
      return false;
    }
  }

  /**
   * Calls `done` with null when allowed (the packet possibly rewritten), with an error otherwise.
   * A publish whose answer the cache holds is decided at once, without a promise or the base64 of
   * its payload: that is nearly every publish of a busy device, one per event.
   */
  private authorizePublish(client: Client, packet: PublishPacket, done: (error: Error | null) => void): void {
    const session = this.sessions.get(client);
    if (!session) {
      this.refuse('publish', 'no_session', { clientId: client.id });
      return done(new Error('not authorized'));
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    if (payload.length > session.maxMessageSize) {
      this.refuse('publish', 'message_too_large', { clientId: client.id, bytes: payload.length });
      return done(new Error('message too large'));
    }
    if (!session.publishes.take()) {
      this.refuse('publish', 'rate_limited', { clientId: client.id });
      return done(new Error('publish rate exceeded'));
    }
    const key = this.publishKey(client, session, packet);
    const cached = this.options.webhooks.cached<PublishResponse>(key);
    if (cached !== undefined) return done(this.applyPublish(client, packet, cached));
    // MQTT 5's Receive Maximum, for 3.1.1 clients. Each publish awaiting cert-service holds a webhook
    // call and its payload, and aedes handles every packet of one read at once, so a single read
    // could otherwise hold thousands. QoS 2 publishes past this stage, awaiting PUBREL, aedes bounds.
    if (packet.qos === 0) {
      void this.decidePublish(client, session, packet, payload, key).then(done);
      return;
    }
    if (session.inflight >= this.options.maxInflightMessages) {
      this.refuse('publish', 'inflight_exceeded', {
        clientId: client.id,
        limit: this.options.maxInflightMessages,
      });
      return done(new Error('too many messages in flight'));
    }
    session.inflight++;
    void this.decidePublish(client, session, packet, payload, key).then((error) => {
      session.inflight--;
      done(error);
    });
  }

  private publishKey(client: Client, session: Session, packet: PublishPacket): string {
    const last = session.lastPublish;
    if (last && last.topic === packet.topic && last.qos === packet.qos && last.retain === packet.retain)
      return last.key;
    const key = publishCacheKey({
      username: session.username,
      mountpoint: MOUNTPOINT,
      client_id: client.id,
      qos: packet.qos,
      topic: packet.topic,
      retain: packet.retain,
    });
    session.lastPublish = { topic: packet.topic, qos: packet.qos, retain: packet.retain, key };
    return key;
  }

  private async decidePublish(
    client: Client,
    session: Session,
    packet: PublishPacket,
    payload: Buffer,
    key: string,
  ): Promise<Error | null> {
    const request: PublishRequest = {
      username: session.username,
      mountpoint: MOUNTPOINT,
      client_id: client.id,
      qos: packet.qos,
      topic: packet.topic,
      payload: payload.toString('base64'),
      retain: packet.retain,
    };
    try {
      return this.applyPublish(
        client,
        packet,
        await this.options.webhooks.call('auth_on_publish', request, publishResponse, key),
      );
    } catch (err) {
      this.refuse('publish', this.reasonOf(err), { clientId: client.id, topic: packet.topic });
      return new Error('not authorized');
    }
  }

  /** Applies cert-service's answer to the packet; null when allowed, the refusal otherwise. */
  private applyPublish(client: Client, packet: PublishPacket, response: PublishResponse): Error | null {
    const decision = publishDecision(response);
    if (!decision.allowed) {
      this.refuse('publish', decision.reason, { clientId: client.id, topic: packet.topic });
      return new Error('not authorized');
    }
    // aedes answers the publish by its QoS after this hook (PUBACK for 1, PUBREC for 2, nothing
    // for 0): a QoS rewrite would answer what the client never sent, so it is not applied here.
    const { qos: _qos, ...rewrite } = decision.value;
    Object.assign(packet, rewrite);
    this.options.metrics.messagesIn.inc();
    return null;
  }

  /** Resolves to the subscription as granted, or null to refuse it (SUBACK 0x80). */
  private async authorizeSubscribe<S extends { topic: string; qos: number }>(
    client: Client,
    subscription: S,
  ): Promise<S | null> {
    const session = this.sessions.get(client);
    if (!session) {
      this.refuse('subscribe', 'no_session', { clientId: client.id });
      return null;
    }
    const request: SubscribeRequest = {
      username: session.username,
      mountpoint: MOUNTPOINT,
      client_id: client.id,
      topics: [{ topic: subscription.topic, qos: subscription.qos }],
    };
    try {
      const response = await this.options.webhooks.call('auth_on_subscribe', request, subscribeResponse);
      const decision = subscribeDecision({ topic: subscription.topic, qos: subscription.qos }, response);
      if (!decision.allowed) {
        this.refuse('subscribe', decision.reason, { clientId: client.id, topic: subscription.topic });
        return null;
      }
      return { ...subscription, topic: decision.value.topic, qos: decision.value.qos };
    } catch (err) {
      this.refuse('subscribe', this.reasonOf(err), { clientId: client.id, topic: subscription.topic });
      return null;
    }
  }
}
