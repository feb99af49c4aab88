import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface BrokerMetrics {
  connections: Gauge<'listener'>;
  messagesIn: Counter;
  messagesOut: Counter;
  webhookDuration: Histogram<'hook' | 'outcome'>;
  refusals: Counter<'action' | 'reason'>;
}

export function createBrokerMetrics(registry: Registry): BrokerMetrics {
  const registers = [registry];
  return {
    connections: new Gauge({
      name: 'mqtt_connections',
      help: 'MQTT clients connected now, by listener',
      labelNames: ['listener'] as const,
      registers,
    }),
    messagesIn: new Counter({
      name: 'mqtt_messages_in_total',
      help: 'PUBLISH packets accepted from clients',
      registers,
    }),
    messagesOut: new Counter({
      name: 'mqtt_messages_out_total',
      help: 'PUBLISH packets delivered to clients',
      registers,
    }),
    webhookDuration: new Histogram({
      name: 'mqtt_webhook_duration_seconds',
      help: 'Duration of authorization webhook calls by hook and outcome',
      labelNames: ['hook', 'outcome'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    refusals: new Counter({
      name: 'mqtt_refusals_total',
      help: 'Refused connects, publishes and subscriptions, and disconnected clients, by reason',
      labelNames: ['action', 'reason'] as const,
      registers,
    }),
  };
}
