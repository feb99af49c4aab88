import { Controller, Get, Header, HttpCode, Param, Post } from '@nestjs/common';
import { CurrentCaller, RequireScope, type Caller } from '../identity/caller.js';
import { PublicApi } from '../identity/public-api.js';
import { FirstConnectService } from './first-connect.service.js';

@Controller('devices/:deviceId/provisioning')
@PublicApi()
export class FirstConnectController {
  constructor(private readonly firstConnect: FirstConnectService) {}

  /** Answers the token once: only its keyed hash is kept. */
  @Post()
  @HttpCode(201)
  @RequireScope('device.claim')
  @Header('cache-control', 'no-store')
  issue(@CurrentCaller() caller: Caller, @Param('deviceId') deviceId: string) {
    return this.firstConnect.issue(caller, deviceId);
  }

  /** Polled by the app until the device has presented the token. */
  @Get()
  @RequireScope('device.read')
  @Header('cache-control', 'no-store')
  status(@CurrentCaller() caller: Caller, @Param('deviceId') deviceId: string) {
    return this.firstConnect.status(caller, deviceId);
  }
}
