import { Body, Controller, Delete, Header, HttpCode, Param, Post } from '@nestjs/common';
import { CurrentCaller, RequireScope, type Caller } from '../identity/caller.js';
import { PublicApi } from '../identity/public-api.js';
import { parseInput } from '../validation.js';
import { claimRequestSchema } from './claims.dto.js';
import { ClaimsService } from './claims.service.js';

@Controller()
@PublicApi()
export class ClaimsController {
  constructor(private readonly claims: ClaimsService) {}

  @Post('claims')
  @HttpCode(201)
  @RequireScope('device.claim')
  claim(@CurrentCaller() caller: Caller, @Body() body: unknown) {
    return this.claims.claim(caller, parseInput(claimRequestSchema, body));
  }

  /** Answers the new claim code once, for whoever gets the machine next. */
  @Delete('devices/:deviceId/claim')
  @RequireScope('device.claim')
  @Header('cache-control', 'no-store')
  release(@CurrentCaller() caller: Caller, @Param('deviceId') deviceId: string) {
    return this.claims.release(caller, deviceId);
  }
}
