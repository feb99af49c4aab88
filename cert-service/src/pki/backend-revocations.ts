import {
  Inject,
  Injectable,
  Optional,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Logger, ServiceContext } from '@spincycle/common';
import { LOGGER, SERVICE_CONTEXT } from '@spincycle/common/nest';
import { Gauge } from 'prom-client';
import type { CertServiceConfig } from '../config.js';
import { CERT_CONFIG } from '../tokens.js';
import { CertificatesRepository } from './certificates.repository.js';
import { PKI_BACKEND, type PkiBackend } from './pki-backend.js';

/** Called once with the instance, so that an embedding test can run a retry without the timer. */
export const BACKEND_REVOCATIONS_OBSERVER = Symbol('BACKEND_REVOCATIONS_OBSERVER');
export type BackendRevocationsObserver = (revocations: BackendRevocations) => void;

// Bounds one pass, so a long outage's backlog drains over several passes rather than one long one.
const BATCH = 500;

/**
 * Carries revocations from cert-service's records to the PKI backend. The record decides for the
 * broker at once; the backend's CRL (Vault's, which VerneMQ's crlfile reads) must follow, so a
 * serial the backend has not confirmed stays pending and is sent again until it is.
 */
@Injectable()
export class BackendRevocations implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    @Inject(PKI_BACKEND) private readonly backend: PkiBackend,
    private readonly certificates: CertificatesRepository,
    @Inject(CERT_CONFIG) private readonly config: CertServiceConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONTEXT) context: Pick<ServiceContext, 'metrics'>,
    @Optional()
    @Inject(BACKEND_REVOCATIONS_OBSERVER)
    observer?: BackendRevocationsObserver,
  ) {
    const repository = this.certificates;
    // Counted from the table at scrape time: every replica shares it, and any of them may drain it.
    new Gauge({
      name: 'cert_pki_backend_revocations_pending',
      help: 'Revoked certificates (unexpired) that the PKI backend has not yet confirmed revoked',
      registers: [context.metrics.registry],
      async collect() {
        this.set(await repository.countPendingBackendRevocations());
      },
    });
    observer?.(this);
  }

  onApplicationBootstrap(): void {
    // Not awaited: an unreachable Vault must not keep cert-service from answering the broker.
    void this.retryPending();
    this.timer = setInterval(() => {
      if (this.running === undefined) void this.retryPending();
    }, this.config.PKI_REVOKE_RETRY_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Sends serials just revoked in the records; a failure leaves them pending for the retry. */
  async revokeAtBackend(serials: string[]): Promise<void> {
    for (const serial of serials) await this.revokeOne(serial);
  }

  /** One pass over the pending revocations; waits for a pass already running, then makes its own. */
  async retryPending(): Promise<void> {
    while (this.running !== undefined) await this.running;
    const pass = this.pass().finally(() => {
      this.running = undefined;
    });
    this.running = pass;
    await pass;
  }

  private async pass(): Promise<void> {
    try {
      const serials = await this.certificates.pendingBackendRevocations(BATCH);
      // Each serial on its own: one the backend keeps refusing must not hold up the others.
      for (const serial of serials) await this.revokeOne(serial);
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'pending PKI backend revocations unreadable');
    }
  }

  private async revokeOne(serial: string): Promise<void> {
    try {
      await this.backend.revoke(serial);
      await this.certificates.backendRevocationConfirmed(serial);
    } catch (err) {
      // Never thrown on: the record is revoked already, and the caller's answer rests on that.
      this.logger.error(
        { serial, backend: this.backend.name, err: (err as Error).message },
        'PKI backend revocation failed; pending, to be retried',
      );
    }
  }
}
