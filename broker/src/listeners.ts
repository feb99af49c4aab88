import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Aedes } from 'aedes';
import { SECURE_TLS_OPTIONS, type Logger } from '@spincycle/common';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { describeConnection, type ConnectionInfo } from './auth/connection-info.js';
import type { ConnectionRateLimiter } from './auth/rate-limit.js';
import type { BrokerMetrics } from './metrics.js';
import { guardReadPackets, PacketSizeGuard, type OversizeVerdict } from './packet-guard.js';
import type { DeviceTrust } from './tls/device-trust.js';
import type { ServerIdentity } from './tls/server-identity.js';

export interface ListenerContext {
  broker: Aedes;
  identity: ServerIdentity;
  connectLimiter: ConnectionRateLimiter;
  metrics: BrokerMetrics;
  logger: Logger;
  maxPacketBytes: number;
}

function admitted(ctx: ListenerContext, address: string | undefined, listener: string): boolean {
  if (ctx.connectLimiter.allow(address ?? 'unknown')) return true;
  ctx.metrics.refusals.inc({ action: 'connect', reason: 'connection_rate' });
  ctx.logger.warn({ address, listener }, 'connection rate per IP exceeded; connection dropped');
  return false;
}

/** Counts and logs a connection ended for announcing a packet above the limit. */
function oversizeReporter(ctx: ListenerContext, who: Record<string, unknown>) {
  return (announced: OversizeVerdict) => {
    ctx.metrics.refusals.inc({ action: 'disconnect', reason: 'packet_too_large' });
    ctx.logger.warn(
      { ...who, announced, limit: ctx.maxPacketBytes },
      'oversized or malformed packet; disconnected',
    );
  };
}

function deviceTlsOptions(ctx: ListenerContext, trust: DeviceTrust) {
  return {
    ...SECURE_TLS_OPTIONS,
    key: ctx.identity.key,
    cert: ctx.identity.cert,
    ca: trust.ca,
    // With a CRL loaded, OpenSSL refuses revoked leaf certificates during the handshake.
    crl: trust.crl,
    requestCert: true,
    rejectUnauthorized: true,
  };
}

/**
 * MQTT over TLS for devices: a client certificate chaining to the device CA is required, and the
 * handshake fails for a missing, expired, foreign or revoked one. The certificate then identifies
 * the device to the webhooks (CN as username, DER as client_cert).
 */
export function createDeviceListener(ctx: ListenerContext, trust: DeviceTrust) {
  const server = createTlsServer(deviceTlsOptions(ctx, trust), (socket: TLSSocket) => {
    if (!admitted(ctx, socket.remoteAddress, 'mqtts')) return socket.destroy();
    const peer = socket.getPeerCertificate(false);
    const commonName = peer.subject?.CN;
    if (!socket.authorized || !commonName || Array.isArray(commonName)) {
      ctx.metrics.refusals.inc({ action: 'connect', reason: 'client_certificate' });
      return socket.destroy();
    }
    const address = socket.address();
    describeConnection(socket, {
      listenerType: 'mqtts',
      listenerAddr: 'address' in address ? address.address : '',
      listenerPort: 'port' in address ? address.port : 0,
      peerAddr: socket.remoteAddress ?? '',
      peerPort: socket.remotePort ?? 0,
      certificate: { commonName, serialNumber: peer.serialNumber, der: peer.raw },
    });
    guardReadPackets(socket, ctx.maxPacketBytes, oversizeReporter(ctx, { commonName }));
    ctx.broker.handle(socket);
  });
  server.on('tlsClientError', (err) => {
    ctx.metrics.refusals.inc({ action: 'connect', reason: 'tls_handshake' });
    ctx.logger.debug({ reason: err.message }, 'TLS handshake refused');
  });
  return {
    server,
    /** New connections use the new CA and CRL at once; live sessions are checked by the caller. */
    updateTrust(next: DeviceTrust) {
      server.setSecureContext(deviceTlsOptions(ctx, next));
    },
  };
}

/** MQTT over WebSockets for the app (TLS unless `secure` is false, which only binds to loopback). */
export function createWebSocketListener(ctx: ListenerContext, secure: boolean) {
  const listenerType: ConnectionInfo['listenerType'] = secure ? 'mqttwss' : 'mqttws';
  const server = secure
    ? createHttpsServer({ ...SECURE_TLS_OPTIONS, key: ctx.identity.key, cert: ctx.identity.cert })
    : createHttpServer();
  const wss = new WebSocketServer({ server, maxPayload: ctx.maxPacketBytes, perMessageDeflate: false });
  wss.on('connection', (socket, req: IncomingMessage) => {
    if (!admitted(ctx, req.socket.remoteAddress, listenerType)) return socket.terminate();
    const stream = createWebSocketStream(socket);
    stream.on('error', (err) => ctx.logger.debug({ reason: err.message }, 'websocket stream error'));
    const guarded = new PacketSizeGuard(
      stream,
      ctx.maxPacketBytes,
      oversizeReporter(ctx, { listener: listenerType, address: req.socket.remoteAddress }),
    );
    const address = req.socket.address();
    describeConnection(guarded, {
      listenerType,
      listenerAddr: 'address' in address ? address.address : '',
      listenerPort: 'port' in address ? address.port : 0,
      peerAddr: req.socket.remoteAddress ?? '',
      peerPort: req.socket.remotePort ?? 0,
    });
    ctx.broker.handle(guarded, req);
  });
  return { server, wss };
}
