import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { pipeline } from 'node:stream/promises';
import {
  loadDeviceTrust,
  normaliseSerial,
  SECURE_TLS_OPTIONS,
  type DeviceTrust,
  type Logger,
  type ServerIdentity,
} from '@spincycle/common';
import { parseByteRange } from './byte-range.js';
import type { FirmwareService } from './firmware.service.js';

export interface DownloadServerOptions {
  host: string;
  port: number;
  identity: ServerIdentity;
  caUrl: string;
  crlUrl: string;
  crlRefreshMs: number;
}

const PATH = /^\/v1\/firmware\/([0-9a-f-]{36})$/;

/**
 * Firmware downloads for devices, over HTTPS with a client certificate: the handshake requires a
 * certificate of the device CA that is not on its CRL, and the certificate's CN is the only thing
 * that says which device is asking. GET and HEAD, with single byte ranges so an interrupted
 * download resumes where it stopped. Plain node:https rather than a second Nest application:
 * two routes, and the TLS socket's peer certificate is what they are about.
 */
export class FirmwareDownloadServer {
  private server: Server | undefined;
  private trust: DeviceTrust | undefined;
  private refresher: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: DownloadServerOptions,
    private readonly firmware: FirmwareService,
    private readonly logger: Logger,
  ) {}

  async start(trust: DeviceTrust): Promise<AddressInfo> {
    this.trust = trust;
    const server = createServer(
      { ...this.secureContext(trust), requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        this.handle(req, res).catch((err: unknown) => {
          this.logger.error({ err }, 'firmware download failed');
          if (!res.headersSent) send(res, 500, 'internal error');
          else res.destroy();
        });
      },
    );
    server.on('tlsClientError', (err) =>
      this.logger.debug({ reason: err.message }, 'firmware download TLS refused'),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    // A revocation reaches this listener with the next CRL; device status is checked per request too.
    this.refresher = setInterval(() => void this.refreshTrust(), this.options.crlRefreshMs);
    this.refresher.unref();
    return server.address() as AddressInfo;
  }

  async refreshTrust(): Promise<void> {
    try {
      const trust = await loadDeviceTrust(this.options.caUrl, this.options.crlUrl);
      this.trust = trust;
      this.server?.setSecureContext(this.secureContext(trust));
    } catch (err) {
      this.logger.warn({ reason: (err as Error).message }, 'device CRL refresh failed; keeping the last one');
    }
  }

  /** What the handshake verifies clients against; replaced whole when the CRL changes. */
  private secureContext(trust: DeviceTrust) {
    const { identity } = this.options;
    return { ...SECURE_TLS_OPTIONS, key: identity.key, cert: identity.cert, ca: trust.ca, crl: trust.crl };
  }

  async stop(): Promise<void> {
    clearInterval(this.refresher);
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const socket = req.socket as TLSSocket;
    const peer = socket.getPeerCertificate(false);
    const deviceId = peer.subject?.CN;
    if (
      !socket.authorized ||
      typeof deviceId !== 'string' ||
      this.trust?.revoked.has(normaliseSerial(peer.serialNumber))
    ) {
      return send(res, 403, 'a valid device certificate is required');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'method not allowed');
    }
    const firmwareId = PATH.exec(new URL(req.url ?? '/', 'https://device.invalid').pathname)?.[1];
    if (firmwareId === undefined) return send(res, 404, 'not found');

    const decision = await this.firmware.authorizeDownload(deviceId, firmwareId);
    if ('refused' in decision) {
      this.logger.info({ deviceId, firmwareId, reason: decision.refused }, 'firmware download refused');
      if (decision.refused === 'downgrade')
        return send(res, 409, 'this device runs this version or a newer one');
      if (decision.refused === 'firmware not found') return send(res, 404, 'firmware not found');
      return send(res, 403, decision.refused);
    }
    const { firmware } = decision;
    const size = await this.firmware.store.size(firmware.id);
    if (size !== firmware.sizeBytes) {
      this.logger.error(
        { firmwareId, expected: firmware.sizeBytes, found: size },
        'firmware image missing or damaged on disk',
      );
      return send(res, 503, 'firmware image unavailable');
    }
    const etag = `"${firmware.sha256.toString('hex')}"`;
    res.setHeader('accept-ranges', 'bytes');
    res.setHeader('etag', etag);
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('x-firmware-sha256', firmware.sha256.toString('hex'));
    res.setHeader('x-firmware-signature', firmware.signature.toString('base64'));
    // A resumed download must not stitch two different images together.
    const ifRange = req.headers['if-range'];
    const range = ifRange === undefined || ifRange === etag ? parseByteRange(req.headers.range, size) : null;
    if (range === 'unsatisfiable') {
      res.setHeader('content-range', `bytes */${size}`);
      return send(res, 416, 'range not satisfiable');
    }
    if (range) {
      res.statusCode = 206;
      res.setHeader('content-range', `bytes ${range.start}-${range.end}/${size}`);
      res.setHeader('content-length', String(range.end - range.start + 1));
    } else {
      res.statusCode = 200;
      res.setHeader('content-length', String(size));
    }
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    this.logger.info({ deviceId, firmwareId, range: range ?? undefined }, 'firmware download');
    await pipeline(this.firmware.store.read(firmware.id, range ?? undefined), res);
  }
}

function send(res: ServerResponse, status: number, message: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ statusCode: status, message }));
}
