import type { Server } from 'node:net';
import { Aedes, type Client } from 'aedes';
import { createContext, listen, startHttpListener, urlOf, type RunningService } from '@spincycle/common';
import { adminHandler } from './admin/admin.js';
import { Authorizer } from './auth/authorizer.js';
import { ConnectionRateLimiter } from './auth/rate-limit.js';
import { config } from './config.js';
import { createDeviceListener, createWebSocketListener, type ListenerContext } from './listeners.js';
import { memoryPersistence } from './memory-persistence.js';
import { createBrokerMetrics } from './metrics.js';
import { redisBackends } from './persistence.js';
import {
  loadDeviceTrust,
  normaliseSerial,
  waitForDeviceTrust,
  type DeviceTrust,
} from './tls/device-trust.js';
import { loadServerIdentity } from './tls/server-identity.js';
import { DecisionCache } from './webhooks/cache.js';
import { WebhookClient } from './webhooks/client.js';

/** mqemitter's `concurrency` for no limit, hence no queue. */
const UNLIMITED_DELIVERIES = 0;

export interface RunningBroker extends RunningService {
  /** Where each MQTT listener ended up (ports may be 0 in configuration). */
  endpoints: { mqtts: string; wss: string; ws?: string };
  /** The server certificate clients must trust (self-signed in development). */
  serverCertificate: string;
}

function closeNet(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function start(env: NodeJS.ProcessEnv): Promise<RunningBroker> {
  const context = await createContext('broker', config, env);
  const { config: c, logger, metrics: serviceMetrics, health } = context;
  const metrics = createBrokerMetrics(serviceMetrics.registry);
  const cache = new DecisionCache(c.WEBHOOK_CACHE_MAX_ENTRIES);
  const webhooks = new WebhookClient({
    url: c.WEBHOOK_URL,
    timeoutMs: c.WEBHOOK_TIMEOUT_MS,
    // A fleet reconnecting at once asks one first question per device. Each round trip takes a
    // turn or two of this busy event loop (100 ms and more then), so the calls queued behind the
    // pool's connections set how long the last devices wait: with 1,000 devices in the ingestion
    // bench, 64 connections answered the last after 4 s, 256 after 2.5 s.
    connections: c.WEBHOOK_MAX_CONNECTIONS,
    metrics,
    logger,
    cache,
  });
  const authorizer = new Authorizer({
    webhooks,
    metrics,
    logger,
    maxPublishPerSecond: c.MAX_PUBLISH_PER_SECOND,
    maxPacketBytes: c.MAX_PACKET_BYTES,
    maxInflightMessages: c.MAX_INFLIGHT_MESSAGES,
  });

  const redis = c.REDIS_URL ? redisBackends(c.REDIS_URL, logger) : undefined;
  const clients = new Map<string, Client>();
  const broker = await Aedes.createBroker({
    ...(redis ? { persistence: redis.persistence, mq: redis.mq } : { persistence: memoryPersistence() }),
    ...authorizer.hooks(),
    maxClientsIdLength: 128,
    // No limit on the messages aedes delivers at once (its default is 100). Past the limit,
    // mqemitter keeps the rest in an array shifted from the front, which costs time in proportion
    // to its length for every message and saves no memory: publishers have their PUBACK by then.
    // A hundred at a time fell far behind what clients published; with 10,000, a backlog formed
    // over a long run and the broker's CPU per event doubled (36 µs to 68 µs over 600,000 events
    // in bench/device-service), so that it fell further behind.
    concurrency: UNLIMITED_DELIVERIES,
    // QoS 2 publishes stored awaiting PUBREL; those awaiting their authorization the Authorizer counts.
    maxInflightInbound: c.MAX_INFLIGHT_MESSAGES,
    authorizeForward: (_client, packet) => {
      metrics.messagesOut.inc();
      return packet;
    },
  });
  broker.on('client', (client) => {
    clients.set(client.id, client);
    metrics.connections.inc({ listener: authorizer.session(client)?.info.listenerType ?? 'unknown' });
  });
  broker.on('clientReady', (client) => {
    const session = authorizer.session(client);
    if (!session) return;
    webhooks.notify('on_register', {
      peer_addr: session.info.peerAddr,
      peer_port: session.info.peerPort,
      username: session.username,
      mountpoint: '',
      client_id: client.id,
    });
  });
  broker.on('clientDisconnect', (client) => {
    if (clients.get(client.id) === client) clients.delete(client.id);
    metrics.connections.dec({ listener: authorizer.session(client)?.info.listenerType ?? 'unknown' });
    // A connection taking over the client id ends this session, and aedes registers the new one in
    // the same turn (Aedes#registerClient). The client never went offline: saying so would mark a
    // device offline while its new session is connected.
    queueMicrotask(() => {
      if (clients.has(client.id)) return;
      // VerneMQ: on_client_gone when the session ends with the connection, on_client_offline when it persists.
      webhooks.notify(client.clean ? 'on_client_gone' : 'on_client_offline', {
        mountpoint: '',
        client_id: client.id,
      });
    });
  });
  broker.on('subscribe', (subscriptions, client) => {
    const session = authorizer.session(client);
    if (!session) return;
    // As VerneMQ's on_subscribe: every topic of the SUBSCRIBE, a refused one with QoS 128.
    webhooks.notify('on_subscribe', {
      username: session.username,
      mountpoint: '',
      client_id: client.id,
      topics: subscriptions.map(({ topic, qos }) => ({ topic, qos })),
    });
  });
  broker.on('clientError', (client, err) => {
    // aedes ends a client holding more QoS 2 publishes awaiting PUBREL than maxInflightInbound.
    if (err.message.startsWith('maxInflightInbound exceeded')) {
      metrics.refusals.inc({ action: 'publish', reason: 'inflight_exceeded' });
      logger.info({ clientId: client.id, limit: c.MAX_INFLIGHT_MESSAGES }, 'too many messages in flight');
      return;
    }
    logger.debug({ clientId: client.id, reason: err.message }, 'client error');
  });
  broker.on('connectionError', (_client, err) => logger.debug({ reason: err.message }, 'connection error'));

  const identity = await loadServerIdentity({
    certFile: c.TLS_CERT_FILE,
    keyFile: c.TLS_KEY_FILE,
    dataDir: c.DATA_DIR,
    logger,
  });
  const ctx: ListenerContext = {
    broker,
    identity,
    connectLimiter: new ConnectionRateLimiter(c.MAX_CONNECTS_PER_MINUTE_PER_IP),
    metrics,
    logger,
    maxPacketBytes: c.MAX_PACKET_BYTES,
  };

  let trust: DeviceTrust = await waitForDeviceTrust(c.DEVICE_CA_URL, c.DEVICE_CRL_URL, logger, 30_000);
  const devices = createDeviceListener(ctx, trust);

  const disconnect = (match: (client: Client) => boolean, reason: string): number => {
    let count = 0;
    for (const client of [...clients.values()]) {
      if (!match(client)) continue;
      count++;
      metrics.refusals.inc({ action: 'disconnect', reason });
      client.close();
    }
    if (count > 0) logger.info({ reason, count }, 'disconnected live sessions');
    return count;
  };
  const refreshTrust = async (): Promise<number> => {
    trust = await loadDeviceTrust(c.DEVICE_CA_URL, c.DEVICE_CRL_URL);
    devices.updateTrust(trust);
    return disconnect((client) => {
      const serial = authorizer.session(client)?.info.certificate?.serialNumber;
      return serial !== undefined && trust.revoked.has(normaliseSerial(serial));
    }, 'certificate_revoked');
  };
  const refresher = setInterval(() => {
    refreshTrust().catch((err: Error) => logger.warn({ reason: err.message }, 'device CRL refresh failed'));
  }, c.CRL_REFRESH_SECONDS * 1000);
  refresher.unref();

  const mqtts = await listen(devices.server, c.MQTTS_PORT, c.HOST);
  const wss = createWebSocketListener(ctx, true);
  const wssAddress = await listen(wss.server, c.WSS_PORT, c.HOST);
  const ws = c.WS_DEV_PORT === undefined ? undefined : createWebSocketListener(ctx, false);
  const wsAddress = ws ? await listen(ws.server, c.WS_DEV_PORT ?? 0, '127.0.0.1') : undefined;

  const http = await startHttpListener({
    context,
    port: c.HTTP_PORT,
    host: '127.0.0.1',
    handler: adminHandler(c.ADMIN_TOKEN, {
      disconnect: ({ clientIds, usernames }) => {
        const ids = new Set(clientIds);
        const names = new Set(usernames);
        return disconnect(
          (client) => ids.has(client.id) || names.has(authorizer.session(client)?.username ?? '\u0000'),
          'admin_request',
        );
      },
      refreshTrust,
      clearCache: (selector) => cache.clear(selector),
    }),
  });
  health.add('device-listener', async () => {
    if (!devices.server.listening) throw new Error('the device listener is not listening');
  });
  if (redis) {
    health.add('redis', async () => {
      const down = redis.down();
      if (down.length > 0) throw new Error(`no Redis connection for the ${down.join(', ')}`);
    });
  }

  return {
    name: context.name,
    url: http.url,
    context,
    endpoints: {
      mqtts: urlOf(mqtts, 'mqtts'),
      wss: urlOf(wssAddress, 'wss'),
      ...(wsAddress ? { ws: urlOf(wsAddress, 'ws') } : {}),
    },
    serverCertificate: identity.cert,
    async close() {
      clearInterval(refresher);
      // Stop accepting first, then end sessions, then the ops listener. A listener reports itself
      // closed only once its last connection is gone, so it is waited for after the sessions end.
      const listenersClosed = Promise.all([
        closeNet(devices.server),
        closeNet(wss.server),
        ws ? closeNet(ws.server) : undefined,
      ]);
      for (const socket of [...wss.wss.clients, ...(ws?.wss.clients ?? [])]) socket.terminate();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await listenersClosed;
      await webhooks.close();
      await http.close();
    },
  };
}
