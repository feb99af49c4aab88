import { Body, Controller, Header, HttpCode, Post } from '@nestjs/common';
import { CurrentCaller, RequireScope, type Caller } from '../identity/caller.js';
import { PublicApi } from '../identity/public-api.js';
import { parseInput } from '../validation.js';
import { provisionBatchSchema } from './provisioning.dto.js';
import { ProvisioningService } from './provisioning.service.js';

@Controller('admin/devices')
@PublicApi()
export class ProvisioningController {
  constructor(private readonly provisioning: ProvisioningService) {}

  /** The manifest holds every secret of the batch, shown this once: nothing may cache it. */
  @Post()
  @HttpCode(201)
  @RequireScope('admin.provision')
  @Header('cache-control', 'no-store')
  async provision(@CurrentCaller() caller: Caller, @Body() body: unknown) {
    return { devices: await this.provisioning.provision(caller, parseInput(provisionBatchSchema, body)) };
  }
}
