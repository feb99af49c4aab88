import { join } from 'node:path';
import {
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Logger } from '@spincycle/common';
import { CoreModule, LOGGER, type CoreModuleOptions } from '@spincycle/common/nest';
import { AccessRepository } from './access/access.repository.js';
import { AuditRepository } from './audit/audit.repository.js';
import {
  CERT_SERVICE_CLIENT,
  HttpCertServiceClient,
  type CertServiceClient,
} from './cert-service/cert-service.client.js';
import { COMMAND_PUBLISHER, MqttCommandPublisher } from './commands/command-publisher.js';
import { ClaimAttemptsRepository } from './claims/claim-attempts.repository.js';
import { ClaimsController } from './claims/claims.controller.js';
import { ClaimsService } from './claims/claims.service.js';
import type { DeviceServiceConfig } from './config.js';
import { DevicesController } from './devices/devices.controller.js';
import { DevicesRepository } from './devices/devices.repository.js';
import { DevicesService } from './devices/devices.service.js';
import { ingestBatch } from './events/event-ingest.js';
import { EventIngester } from './events/event-ingester.js';
import { EventRetention } from './events/event-retention.js';
import { EventsController } from './events/events.controller.js';
import { EventsRepository } from './events/events.repository.js';
import { EventsService } from './events/events.service.js';
import { FirstConnectController } from './first-connect/first-connect.controller.js';
import { FirstConnectService } from './first-connect/first-connect.service.js';
import { ProvisioningSessionsRepository } from './first-connect/provisioning-sessions.repository.js';
import { FirmwareController } from './firmware/firmware.controller.js';
import { FirmwareDownloads } from './firmware/firmware-downloads.js';
import { FirmwareRepository } from './firmware/firmware.repository.js';
import { FIRMWARE_OPTIONS, FirmwareService, type FirmwareOptions } from './firmware/firmware.service.js';
import { FirmwareStore } from './firmware/firmware.store.js';
import { FirmwareSigningKeys } from './firmware/signing-keys.js';
import { GrantsController } from './grants/grants.controller.js';
import { GrantsRepository } from './grants/grants.repository.js';
import { GrantsService } from './grants/grants.service.js';
import { IdentityGuard } from './identity/identity.guard.js';
import { IdentityVerifier } from './identity/identity-verifier.js';
import { InternalController } from './internal/internal.controller.js';
import { InternalTokenGuard } from './internal/internal-token.guard.js';
import { ProvisioningController } from './provisioning/provisioning.controller.js';
import { ProvisioningService } from './provisioning/provisioning.service.js';
import { SecretHasher } from './secrets/secrets.js';
import { USER_DIRECTORY, type UserDirectory } from './users/user-directory.js';

/** What device-service talks to beyond its database; the defaults are built from configuration. */
export interface DeviceServiceDependencies {
  certService?: CertServiceClient;
  /** E-mail → account lookup for technician grants; without it, granting by e-mail answers 502. */
  userDirectory?: UserDirectory;
}

@Module({})
export class AppModule {
  static forRoot(core: CoreModuleOptions, dependencies: DeviceServiceDependencies = {}): DynamicModule {
    const config = core.context.config as DeviceServiceConfig;
    const certService =
      dependencies.certService ??
      new HttpCertServiceClient({
        baseUrl: config.CERT_SERVICE_URL,
        token: config.CERT_SERVICE_TOKEN,
        timeoutMs: config.CERT_SERVICE_TIMEOUT_MS,
      });
    return {
      module: AppModule,
      imports: [CoreModule.forRoot(core)],
      controllers: [
        ProvisioningController,
        ClaimsController,
        DevicesController,
        GrantsController,
        EventsController,
        FirstConnectController,
        FirmwareController,
        InternalController,
      ],
      providers: [
        { provide: SecretHasher, useValue: new SecretHasher(config.SECRET_PEPPER) },
        {
          provide: IdentityVerifier,
          useValue: new IdentityVerifier({
            jwksUrl: config.IDENTITY_JWKS_URL,
            issuer: config.IDENTITY_ISSUER,
            audience: config.IDENTITY_AUDIENCE,
          }),
        },
        { provide: CERT_SERVICE_CLIENT, useValue: certService },
        ...(config.MQTT_URL ? mqttProviders(config, config.MQTT_URL, certService) : []),
        ...(dependencies.userDirectory
          ? [{ provide: USER_DIRECTORY, useValue: dependencies.userDirectory }]
          : []),
        IdentityGuard,
        InternalTokenGuard,
        AccessRepository,
        AuditRepository,
        DevicesRepository,
        ClaimAttemptsRepository,
        GrantsRepository,
        EventsRepository,
        ProvisioningService,
        ClaimsService,
        DevicesService,
        GrantsService,
        EventsService,
        EventRetention,
        ProvisioningSessionsRepository,
        FirstConnectService,
        FirmwareRepository,
        FirmwareService,
        ...firmwareProviders(config),
      ],
    };
  }
}

/** The catalogue's storage and keys, and the download listener whose address offers carry. */
function firmwareProviders(config: DeviceServiceConfig) {
  // Parsed here so a malformed key list stops the start with its reason.
  const keys = FirmwareSigningKeys.parse(config.FIRMWARE_SIGNING_KEYS);
  return [
    {
      provide: FirmwareDownloads,
      inject: [LOGGER],
      useFactory: (logger: Logger) => new FirmwareDownloads(config, logger),
    },
    {
      provide: FIRMWARE_OPTIONS,
      inject: [FirmwareDownloads],
      useFactory: (downloads: FirmwareDownloads): FirmwareOptions => ({
        store: new FirmwareStore(config.FIRMWARE_DIR ?? join(config.DATA_DIR, 'device-service', 'firmware')),
        keys,
        maxBytes: config.FIRMWARE_MAX_BYTES,
        downloadBaseUrl: () => downloads.url(),
      }),
    },
    {
      provide: FIRMWARE_DOWNLOADS_READY,
      inject: [FirmwareDownloads, FirmwareService],
      useFactory: (downloads: FirmwareDownloads, firmware: FirmwareService) => {
        downloads.firmware = firmware;
        return true;
      },
    },
  ];
}

const FIRMWARE_DOWNLOADS_READY = Symbol('FIRMWARE_DOWNLOADS_READY');

const MQTT_CREDENTIALS = Symbol('MQTT_CREDENTIALS');

interface MqttCredentials {
  url: string;
  serviceId: string;
  secret: string;
}

/**
 * device-service's MQTT identity, registered with cert-service before anything connects, so the
 * broker accepts it; start fails if that is impossible.
 */
function mqttProviders(config: DeviceServiceConfig, url: string, certService: CertServiceClient) {
  return [
    {
      provide: MQTT_CREDENTIALS,
      useFactory: async (): Promise<MqttCredentials> => {
        const secret = config.MQTT_SERVICE_SECRET;
        if (secret === undefined) throw new Error('MQTT_SERVICE_SECRET is required when MQTT_URL is set');
        await certService.putService(config.MQTT_SERVICE_ID, secret);
        return { url, serviceId: config.MQTT_SERVICE_ID, secret };
      },
    },
    {
      provide: COMMAND_PUBLISHER,
      inject: [MQTT_CREDENTIALS],
      useFactory: (credentials: MqttCredentials) =>
        new MqttCommandPublisher({
          ...credentials,
          caFile: config.MQTT_CA_FILE,
          timeoutMs: config.MQTT_PUBLISH_TIMEOUT_MS,
        }),
    },
    {
      provide: EventIngestion,
      inject: [
        MQTT_CREDENTIALS,
        EventsRepository,
        DevicesRepository,
        ProvisioningSessionsRepository,
        FirmwareRepository,
        SecretHasher,
        LOGGER,
      ],
      useFactory: (
        credentials: MqttCredentials,
        events: EventsRepository,
        devices: DevicesRepository,
        provisioning: ProvisioningSessionsRepository,
        firmware: FirmwareRepository,
        hasher: SecretHasher,
        logger: Logger,
      ) =>
        new EventIngestion(
          new EventIngester(
            {
              url: credentials.url,
              caFile: config.MQTT_CA_FILE,
              clientId: `${credentials.serviceId}:ingest`,
              username: credentials.serviceId,
              password: credentials.secret,
              batchSize: config.INGEST_BATCH_SIZE,
              batchWaitMs: config.INGEST_BATCH_WAIT_MS,
              keepaliveSeconds: 30,
              reconnectMs: 1000,
            },
            (messages) => ingestBatch({ events, devices, provisioning, firmware, hasher }, messages),
            logger,
          ),
        ),
    },
  ];
}

/** Runs the ingester for the application's lifetime. */
class EventIngestion implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(private readonly ingester: EventIngester) {}

  onApplicationBootstrap(): void {
    this.ingester.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.ingester.stop();
  }
}
