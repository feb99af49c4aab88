import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Logger } from '@spincycle/common';
import { LOGGER } from '@spincycle/common/nest';
import type { CertServiceConfig } from '../config.js';
import { FactsService } from '../facts/facts.service.js';
import { CertificatesRepository } from '../pki/certificates.repository.js';
import { CERT_CONFIG } from '../tokens.js';
import { OtaPublisher } from './ota-publisher.js';
import { renewalNoticeFor } from './renewal-notice.js';

/**
 * Tells a device that its certificate ends soon, so that it re-enrols by CSR before it is locked
 * out. The trigger is the device subscribing to its own ota topic, which both VerneMQ and broker/
 * report with on_subscribe: a notice sent before that subscription would reach nobody. The notice
 * goes out through the broker like any service's message, as cert-service's own service identity.
 */
@Injectable()
export class RenewalNotices implements OnModuleInit, OnApplicationShutdown {
  private publisher: OtaPublisher | undefined;

  constructor(
    @Inject(CERT_CONFIG) private readonly config: CertServiceConfig,
    private readonly certificates: CertificatesRepository,
    private readonly facts: FactsService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    const { MQTT_URL: url, MQTT_SERVICE_ID: serviceId, MQTT_SERVICE_SECRET: secret } = this.config;
    if (url === undefined) {
      this.logger.warn('MQTT_URL unset: certificate renewal notices are off');
      return;
    }
    if (secret === undefined) throw new Error('MQTT_SERVICE_SECRET is required when MQTT_URL is set');
    // The broker checks service secrets against cert-service's own table, so no one else need register it.
    await this.facts.putService(serviceId, secret, ['ota']);
    this.publisher = new OtaPublisher({ url, caFile: this.config.MQTT_CA_FILE, serviceId, secret });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.publisher?.close();
  }

  /** The device subscribed to its ota topic. Never throws: the broker ignores the hook's answer. */
  async deviceSubscribed(deviceId: string, now: Date): Promise<void> {
    const publisher = this.publisher;
    if (publisher === undefined) return;
    try {
      const notice = renewalNoticeFor(await this.certificates.newestActive(deviceId, now), {
        now,
        noticeDays: this.config.RENEWAL_NOTICE_DAYS,
        enrolUrl: this.config.PUBLIC_ENROLMENT_URL,
      });
      if (notice === undefined) return;
      await publisher.publish(deviceId, notice);
      this.logger.info({ deviceId, notAfter: notice.notAfter }, 'certificate renewal notice sent');
    } catch (err) {
      this.logger.error({ deviceId, reason: (err as Error).message }, 'certificate renewal notice failed');
    }
  }
}
