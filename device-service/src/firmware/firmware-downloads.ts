import { join } from 'node:path';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { loadServerIdentity, waitForDeviceTrust, type Logger } from '@spincycle/common';
import type { DeviceServiceConfig } from '../config.js';
import { FirmwareDownloadServer } from './download-server.js';
import type { FirmwareService } from './firmware.service.js';

/**
 * Runs the firmware download listener for the application's lifetime, when a port is configured.
 * It opens only once cert-service's device CA is known: without it no client could be verified.
 */
export class FirmwareDownloads implements OnApplicationBootstrap, OnApplicationShutdown {
  private server: FirmwareDownloadServer | undefined;
  private baseUrl: string | undefined;

  constructor(
    private readonly config: DeviceServiceConfig,
    private readonly logger: Logger,
  ) {}

  /** What offers point at: the configured public URL, else this listener's own address. */
  url(): string {
    if (this.config.FIRMWARE_DOWNLOAD_URL) return this.config.FIRMWARE_DOWNLOAD_URL.replace(/\/+$/, '');
    if (this.baseUrl) return this.baseUrl;
    throw new Error('firmware downloads are off (FIRMWARE_DOWNLOAD_PORT is unset)');
  }

  /** Set once the service exists; Nest builds it with this object's url(). */
  firmware: FirmwareService | undefined;

  async onApplicationBootstrap(): Promise<void> {
    const c = this.config;
    if (c.FIRMWARE_DOWNLOAD_PORT === undefined || !this.firmware) return;
    const certService = c.CERT_SERVICE_URL.replace(/\/+$/, '');
    const caUrl = `${certService}/v1/pki/ca`;
    const crlUrl = `${certService}/v1/pki/crl.pem`;
    const identity = await loadServerIdentity({
      certFile: c.FIRMWARE_TLS_CERT_FILE,
      keyFile: c.FIRMWARE_TLS_KEY_FILE,
      dir: join(c.DATA_DIR, 'device-service', 'tls'),
      commonName: 'spincycle-firmware',
      logger: this.logger,
    });
    const trust = await waitForDeviceTrust(caUrl, crlUrl, this.logger, 30_000);
    this.server = new FirmwareDownloadServer(
      {
        host: c.HOST,
        port: c.FIRMWARE_DOWNLOAD_PORT,
        identity,
        caUrl,
        crlUrl,
        crlRefreshMs: c.DEVICE_CRL_REFRESH_MS,
      },
      this.firmware,
      this.logger,
    );
    const address = await this.server.start(trust);
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.baseUrl = `https://${host}:${address.port}`;
    this.logger.info({ url: this.baseUrl }, 'firmware downloads listening');
  }

  /** Re-reads the CRL now, after device-service itself had a certificate revoked. */
  refreshTrust(): Promise<void> {
    return this.server?.refreshTrust() ?? Promise.resolve();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.server?.stop();
  }
}
