import { z } from 'zod';

/**
 * VerneMQ's vmq_webhooks wire contract, as the broker sends it and as cert-service answers it
 * (see docs/protocol.md and VerneMQ's webhook plugin documentation). Requests carry the hook name in
 * the `vernemq-hook` header; binary values (payloads, certificates) are base64, VerneMQ's default.
 */
export type Hook =
  | 'auth_on_register'
  | 'auth_on_publish'
  | 'auth_on_subscribe'
  | 'on_register'
  | 'on_subscribe'
  | 'on_client_offline'
  | 'on_client_gone';

export interface RegisterRequest {
  peer_addr: string;
  peer_port: number;
  mountpoint: string;
  client_id: string;
  username: string | null;
  password: string | null;
  clean_session: boolean;
  /** base64 of the DER client certificate (forward_connection_opts on a TLS listener). */
  client_cert?: string;
  listener_addr: string;
  listener_port: number;
  listener_type: 'mqtts' | 'mqttwss' | 'mqttws';
}

/** on_register: a client connected (sent once it has its CONNACK). */
export interface RegisteredRequest {
  peer_addr: string;
  peer_port: number;
  username: string | null;
  mountpoint: string;
  client_id: string;
}

export interface PublishRequest {
  username: string | null;
  mountpoint: string;
  client_id: string;
  qos: 0 | 1 | 2;
  topic: string;
  payload: string;
  retain: boolean;
}

/** auth_on_subscribe asks about these topics; on_subscribe reports them as granted, 128 where refused. */
export interface SubscribeRequest {
  username: string | null;
  mountpoint: string;
  client_id: string;
  topics: { topic: string; qos: number }[];
}

export interface LifecycleRequest {
  mountpoint: string;
  client_id: string;
}

const errorResult = z.object({ error: z.string() });

/** `{"result":"ok"}`, `{"result":"next"}` or `{"result":{"error":"…"}}`. */
const result = z.union([z.literal('ok'), z.literal('next'), errorResult]);

/** auth_on_register modifiers we apply; VerneMQ rejects unknown keys, and so do we (strict). */
export const registerResponse = z.object({
  result,
  modifiers: z
    .object({
      max_message_size: z.number().int().positive().optional(),
      max_inflight_messages: z.number().int().nonnegative().optional(),
      retry_interval: z.number().int().nonnegative().optional(),
      max_message_rate: z.number().int().nonnegative().optional(),
      upgrade_qos: z.boolean().optional(),
      clean_session: z.boolean().optional(),
    })
    .strict()
    .optional(),
});

export const publishResponse = z.object({
  result,
  modifiers: z
    .object({
      topic: z.string().min(1).optional(),
      payload: z.string().optional(),
      qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
      retain: z.boolean().optional(),
      mountpoint: z.string().optional(),
      throttle: z.number().int().nonnegative().optional(),
    })
    .strict()
    .optional(),
});

export const subscribeResponse = z.object({
  result,
  topics: z.array(z.object({ topic: z.string().min(1), qos: z.number().int().min(0).max(255) })).optional(),
});

export type RegisterResponse = z.infer<typeof registerResponse>;
export type PublishResponse = z.infer<typeof publishResponse>;
export type SubscribeResponse = z.infer<typeof subscribeResponse>;

/** QoS value that refuses one topic of a subscription (SUBACK 0x80). */
export const REFUSED_QOS = 128;
