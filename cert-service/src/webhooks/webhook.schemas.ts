import { z } from 'zod';

/**
 * Request bodies of VerneMQ's vmq_webhooks, field for field (../shared/reference/vernemq-webhooks.md).
 * Fields VerneMQ adds in later versions are ignored rather than refused; a missing or mistyped
 * field we decide on fails the parse, and the hook is refused.
 */
const username = z.string().nullable();
const mountpoint = z.string();
const clientId = z.string();
const qos = z.number().int().min(0).max(2);
const properties = z.record(z.string(), z.unknown());

export const MAX_SUBSCRIBE_TOPICS = 100;

const register = z.object({
  peer_addr: z.string(),
  peer_port: z.number().int(),
  mountpoint,
  client_id: clientId,
  username,
  password: z.string().nullable(),
  /** base64 of the DER peer certificate, with forward_connection_opts on TLS listeners. */
  client_cert: z.string().optional(),
});

export const authOnRegister = register.extend({ clean_session: z.boolean() });
export const authOnRegisterM5 = register.extend({ clean_start: z.boolean(), properties });

const publish = z.object({
  username,
  mountpoint,
  client_id: clientId,
  qos,
  topic: z.string(),
  /** Absent with no_payload = on; cert-service never reads it. */
  payload: z.string().optional(),
  retain: z.boolean(),
});

export const authOnPublish = publish;
export const authOnPublishM5 = publish.extend({ properties });

const subscription = z.object({ topic: z.string(), qos });
const subscribe = z.object({
  username,
  mountpoint,
  client_id: clientId,
  topics: z.array(subscription).min(1).max(MAX_SUBSCRIBE_TOPICS),
});

export const authOnSubscribe = subscribe;
export const authOnSubscribeM5 = subscribe.extend({
  topics: z
    .array(
      subscription.extend({
        no_local: z.boolean().optional(),
        rap: z.boolean().optional(),
        retain_handling: z.enum(['send_retain', 'send_if_new_sub', 'dont_send']).optional(),
      }),
    )
    .min(1)
    .max(MAX_SUBSCRIBE_TOPICS),
  properties,
});

export const clientLifecycle = z.object({ mountpoint, client_id: clientId });

export const onRegister = z.object({
  peer_addr: z.string(),
  peer_port: z.number().int(),
  mountpoint,
  client_id: clientId,
  username,
});

/**
 * on_subscribe and on_subscribe_m5 (properties ignored): the topics as granted, a refused one with
 * QoS 128 (or, in MQTT 5, its reason code).
 */
export const onSubscribe = z.object({
  username,
  mountpoint,
  client_id: clientId,
  topics: z
    .array(z.object({ topic: z.string(), qos: z.number().int().min(0).max(255) }))
    .min(1)
    .max(MAX_SUBSCRIBE_TOPICS),
});

export type RegisterRequest = z.infer<typeof register>;
export type PublishRequest = z.infer<typeof publish>;
export type SubscribeRequest = z.infer<typeof subscribe>;

/** The answers VerneMQ understands (reference "Responses"). */
export const NOT_ALLOWED = { result: { error: 'not_allowed' } } as const;
export const OK = { result: 'ok' } as const;
/** SUBACK failure in MQTT 3.1.1. */
export const REFUSED_QOS_V3 = 128;
/** MQTT 5 reason code "Not authorized"; VerneMQ passes any value above 2 through as the reason. */
export const REFUSED_REASON_M5 = 135;
