import { Module, type DynamicModule } from '@nestjs/common';
import { CoreModule, SERVICE_CONTEXT, type CoreModuleOptions } from '@spincycle/common/nest';
import { IdentityVerifier, type ServiceContext } from '@spincycle/common';
import { AccountsController } from './accounts/accounts.controller.js';
import { AccountsService } from './accounts/accounts.service.js';
import { DEVICE_RELEASE } from './accounts/device-release.port.js';
import { HttpDeviceRelease } from './accounts/http-device-release.js';
import { Callers } from './accounts/caller.js';
import { UsersRepository } from './accounts/users.repository.js';
import { FlowsService } from './identity-provider/flows.service.js';
import { HydraAdmin } from './identity-provider/hydra-admin.js';
import { PagesController } from './identity-provider/pages.controller.js';
import { LoginService } from './login/login.service.js';
import { ThrottleRepository } from './login/throttle.repository.js';
import { AccountMetrics } from './metrics.js';
import { LeakedPasswords } from './passwords/leaked-passwords.js';
import { PasswordHasher } from './passwords/password-hasher.js';
import type { UserServiceConfig } from './config.js';
import { USER_CONFIG } from './tokens.js';
import { PageResponder } from './web/page-responder.js';

@Module({})
export class AppModule {
  static forRoot(core: CoreModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [CoreModule.forRoot(core)],
      controllers: [PagesController, AccountsController],
      providers: [
        {
          provide: USER_CONFIG,
          useFactory: (context: ServiceContext) => context.config,
          inject: [SERVICE_CONTEXT],
        },
        AccountMetrics,
        UsersRepository,
        ThrottleRepository,
        PasswordHasher,
        LeakedPasswords,
        LoginService,
        HydraAdmin,
        {
          provide: DEVICE_RELEASE,
          useFactory: (context: ServiceContext) => {
            const config = context.config as UserServiceConfig;
            return config.DEVICE_SERVICE_URL && config.DEVICE_SERVICE_TOKEN
              ? new HttpDeviceRelease(config.DEVICE_SERVICE_URL, config.DEVICE_SERVICE_TOKEN)
              : undefined;
          },
          inject: [SERVICE_CONTEXT],
        },
        AccountsService,
        {
          provide: IdentityVerifier,
          useFactory: (context: ServiceContext) => {
            const config = context.config as UserServiceConfig;
            return new IdentityVerifier({
              jwksUrl: config.IDENTITY_JWKS_URL,
              issuer: config.IDENTITY_ISSUER,
              audience: config.IDENTITY_AUDIENCE,
            });
          },
          inject: [SERVICE_CONTEXT],
        },
        Callers,
        FlowsService,
        PageResponder,
      ],
    };
  }
}
