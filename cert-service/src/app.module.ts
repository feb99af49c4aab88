import { Module, type DynamicModule } from '@nestjs/common';
import { CoreModule, type CoreModuleOptions } from '@spincycle/common/nest';
import { AuthorizationCache } from './acl/authorization-cache.js';
import { BrokerSessions } from './broker/broker-sessions.js';
import type { CertServiceConfig } from './config.js';
import { FactsRepository } from './facts/facts.repository.js';
import { FactsService } from './facts/facts.service.js';
import { InternalController } from './facts/internal.controller.js';
import { InternalTokenGuard } from './facts/internal-token.guard.js';
import { SecretHasher } from './facts/secret-hasher.js';
import { TokenIntrospector } from './oauth/token-introspector.js';
import {
  BACKEND_REVOCATIONS_OBSERVER,
  BackendRevocations,
  type BackendRevocationsObserver,
} from './pki/backend-revocations.js';
import { CertificatesRepository } from './pki/certificates.repository.js';
import { CertificatesService } from './pki/certificates.service.js';
import { pkiBackendProvider } from './pki/pki-backend.provider.js';
import { PkiController } from './pki/pki.controller.js';
import { RenewalNotices } from './renewal/renewal-notices.service.js';
import { CERT_CONFIG, DEVICE_CERTIFICATE_DAYS } from './tokens.js';
import { BrokerAuthorizer } from './webhooks/broker-authorizer.js';
import { WebhooksService } from './webhooks/webhooks.service.js';

/** What a process embedding cert-service may set in code rather than configuration. */
export interface CertServiceEmbedding {
  /**
   * Validity of issued device certificates in days (365 when unset). Only tests set it, to have a
   * certificate near its end; no environment variable or API reaches it.
   */
  deviceCertificateDays?: number;
  /** Handed the backend revocations, so a test can run a retry pass instead of waiting for the timer. */
  onBackendRevocations?: BackendRevocationsObserver;
}

@Module({})
export class AppModule {
  static forRoot(core: CoreModuleOptions, embedding: CertServiceEmbedding = {}): DynamicModule {
    const config = core.context.config as CertServiceConfig;
    return {
      module: AppModule,
      imports: [CoreModule.forRoot(core)],
      controllers: [InternalController, PkiController],
      providers: [
        { provide: CERT_CONFIG, useValue: config },
        { provide: DEVICE_CERTIFICATE_DAYS, useValue: embedding.deviceCertificateDays ?? 365 },
        { provide: SecretHasher, useValue: new SecretHasher(config.SECRET_PEPPER) },
        AuthorizationCache,
        BrokerSessions,
        FactsRepository,
        FactsService,
        InternalTokenGuard,
        TokenIntrospector,
        CertificatesRepository,
        CertificatesService,
        BackendRevocations,
        ...(embedding.onBackendRevocations
          ? [{ provide: BACKEND_REVOCATIONS_OBSERVER, useValue: embedding.onBackendRevocations }]
          : []),
        pkiBackendProvider,
        BrokerAuthorizer,
        RenewalNotices,
        WebhooksService,
      ],
    };
  }
}
