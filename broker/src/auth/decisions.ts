import {
  REFUSED_QOS,
  type PublishResponse,
  type RegisterResponse,
  type SubscribeResponse,
} from '../webhooks/contract.js';

/**
 * How the broker reads cert-service's answers. There is one endpoint per hook, so `next` means no
 * plugin accepted the request, which VerneMQ treats as a refusal (`no_matching_hook_found`).
 */
export type Decision<T> = { allowed: true; value: T } | { allowed: false; reason: string };

const refusal = (result: RegisterResponse['result']): { allowed: false; reason: string } => ({
  allowed: false,
  reason:
    result === 'next' ? 'no_matching_hook_found' : typeof result === 'object' ? result.error : 'refused',
});

export interface SessionLimits {
  maxMessageSize?: number;
  maxInflightMessages?: number;
}

export function registerDecision(response: RegisterResponse): Decision<SessionLimits> {
  if (response.result !== 'ok') return refusal(response.result);
  const m = response.modifiers ?? {};
  return {
    allowed: true,
    value: {
      ...(m.max_message_size !== undefined ? { maxMessageSize: m.max_message_size } : {}),
      ...(m.max_inflight_messages !== undefined ? { maxInflightMessages: m.max_inflight_messages } : {}),
    },
  };
}

export interface PublishRewrite {
  topic?: string;
  payload?: Buffer;
  qos?: 0 | 1 | 2;
  retain?: boolean;
}

export function publishDecision(response: PublishResponse): Decision<PublishRewrite> {
  if (response.result !== 'ok') return refusal(response.result);
  const m = response.modifiers ?? {};
  return {
    allowed: true,
    value: {
      ...(m.topic !== undefined ? { topic: m.topic } : {}),
      // Modifier payloads are base64 under the same option as request payloads.
      ...(m.payload !== undefined ? { payload: Buffer.from(m.payload, 'base64') } : {}),
      ...(m.qos !== undefined ? { qos: m.qos } : {}),
      ...(m.retain !== undefined ? { retain: m.retain } : {}),
    },
  };
}

/**
 * The subscription as granted: `ok` without topics grants what was asked; with topics, the answer
 * for the topic asked (or its rewrite) applies, and QoS 128, like any value above 2, refuses it.
 */
export function subscribeDecision(
  requested: { topic: string; qos: number },
  response: SubscribeResponse,
): Decision<{ topic: string; qos: 0 | 1 | 2 }> {
  if (response.result !== 'ok') return refusal(response.result);
  const answer = response.topics === undefined ? requested : response.topics[0];
  if (!answer) return { allowed: false, reason: 'no_topic_in_answer' };
  if (answer.qos === REFUSED_QOS || answer.qos > 2) return { allowed: false, reason: 'not_allowed' };
  return { allowed: true, value: { topic: answer.topic, qos: answer.qos as 0 | 1 | 2 } };
}
