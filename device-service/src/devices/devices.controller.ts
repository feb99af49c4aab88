import { Body, Controller, Get, Param, Patch, Put } from '@nestjs/common';
import { z } from 'zod';
import { CurrentCaller, RequireScope, type Caller } from '../identity/caller.js';
import { PublicApi } from '../identity/public-api.js';
import { parseInput } from '../validation.js';
import { DevicesService } from './devices.service.js';

const renameSchema = z.object({ name: z.string().trim().min(1).max(64) }).strict();

@Controller()
@PublicApi()
export class DevicesController {
  constructor(private readonly devices: DevicesService) {}

  @Get('devices')
  @RequireScope('device.read')
  async list(@CurrentCaller() caller: Caller) {
    return { devices: await this.devices.listOwned(caller) };
  }

  @Get('technician/devices')
  @RequireScope('device.read')
  async granted(@CurrentCaller() caller: Caller) {
    return { devices: await this.devices.listGranted(caller) };
  }

  @Get('devices/:deviceId')
  @RequireScope('device.read')
  get(@CurrentCaller() caller: Caller, @Param('deviceId') deviceId: string) {
    return this.devices.get(caller, deviceId);
  }

  @Patch('devices/:deviceId')
  @RequireScope('device.control')
  rename(@CurrentCaller() caller: Caller, @Param('deviceId') deviceId: string, @Body() body: unknown) {
    return this.devices.rename(caller, deviceId, parseInput(renameSchema, body).name);
  }

  @Put('devices/:deviceId/settings')
  @RequireScope('device.control')
  async settings(
    @CurrentCaller() caller: Caller,
    @Param('deviceId') deviceId: string,
    @Body() body: unknown,
  ) {
    return { settings: await this.devices.changeSettings(caller, deviceId, body) };
  }
}
