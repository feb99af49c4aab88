import { Module, type DynamicModule } from '@nestjs/common';
import { CoreModule, type CoreModuleOptions } from '@spincycle/common/nest';

@Module({})
export class AppModule {
  static forRoot(core: CoreModuleOptions): DynamicModule {
    return { module: AppModule, imports: [CoreModule.forRoot(core)] };
  }
}
