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
import { CertificatesRepository } from './pki/certificates.repository.js';
import { CertificatesService } from './pki/certificates.service.js';
import { pkiBackendProvider } from './pki/pki-backend.provider.js';
import { PkiController } from './pki/pki.controller.js';
import { CERT_CONFIG } from './tokens.js';
import { BrokerAuthorizer } from './webhooks/broker-authorizer.js';
import { WebhooksController } from './webhooks/webhooks.controller.js';
import { UnreadableWebhookLogger } from './webhooks/unreadable-body.logger.js';
import { WebhooksService } from './webhooks/webhooks.service.js';

@Module({})
export class AppModule {
  static forRoot(core: CoreModuleOptions): DynamicModule {
    const config = core.context.config as CertServiceConfig;
    return {
      module: AppModule,
      imports: [CoreModule.forRoot(core)],
      controllers: [WebhooksController, InternalController, PkiController],
      providers: [
        { provide: CERT_CONFIG, useValue: config },
        { provide: SecretHasher, useValue: new SecretHasher(config.SECRET_PEPPER) },
        AuthorizationCache,
        BrokerSessions,
        FactsRepository,
        FactsService,
        InternalTokenGuard,
        TokenIntrospector,
        CertificatesRepository,
        CertificatesService,
        pkiBackendProvider,
        BrokerAuthorizer,
        WebhooksService,
        UnreadableWebhookLogger,
      ],
    };
  }
}
