import { Global, Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { DataSource } from 'typeorm';
import { ServiceDatabase } from '../database.js';
import type { ServiceContext } from '../service.js';
import { OpsController } from './ops.controller.js';
import { LOGGER, SERVICE_CONTEXT } from './tokens.js';

export interface CoreModuleOptions {
  context: ServiceContext;
  database?: ServiceDatabase;
}

/**
 * Gives every Nest service the same foundations: the validated configuration through
 * @nestjs/config's ConfigService (values already parsed by zod, the raw environment skipped), the
 * logger, the service's database and TypeORM DataSource, and the ops endpoints.
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot({ context, database }: CoreModuleOptions): DynamicModule {
    const databaseProviders = database
      ? [
          { provide: ServiceDatabase, useValue: database },
          { provide: DataSource, useValue: database.dataSource },
        ]
      : [];
    return {
      module: CoreModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          skipProcessEnv: true,
          load: [() => context.config],
        }),
      ],
      controllers: [OpsController],
      providers: [
        { provide: SERVICE_CONTEXT, useValue: context },
        { provide: LOGGER, useValue: context.logger },
        ...databaseProviders,
      ],
      exports: [SERVICE_CONTEXT, LOGGER, ...databaseProviders.map((p) => p.provide)],
    };
  }
}
