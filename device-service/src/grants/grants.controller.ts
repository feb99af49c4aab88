import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { CurrentCaller, RequireScope, type Caller } from '../identity/caller.js';
import { PublicApi } from '../identity/public-api.js';
import { parseInput } from '../validation.js';
import { grantRequestSchema } from './grants.dto.js';
import { GrantsService } from './grants.service.js';

const auditQuerySchema = z
  .object({
    after: z
      .string()
      .regex(/^\d{1,19}$/)
      .optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

@Controller('devices/:deviceId')
@PublicApi()
export class GrantsController {
  constructor(private readonly grants: GrantsService) {}

  @Post('grants')
  @HttpCode(201)
  @RequireScope('device.share')
  grant(@CurrentCaller() caller: Caller, @Param('deviceId') deviceId: string, @Body() body: unknown) {
    return this.grants.grant(caller, deviceId, parseInput(grantRequestSchema, body));
  }

  @Get('grants')
  @RequireScope('device.share')
  async list(@CurrentCaller() caller: Caller, @Param('deviceId') deviceId: string) {
    return { grants: await this.grants.list(caller, deviceId) };
  }

  @Delete('grants/:grantId')
  @RequireScope('device.share')
  revoke(
    @CurrentCaller() caller: Caller,
    @Param('deviceId') deviceId: string,
    @Param('grantId') grantId: string,
  ) {
    return this.grants.revoke(caller, deviceId, grantId);
  }

  /** Oldest first; `after` is the id of the last entry already read. */
  @Get('audit')
  @RequireScope('device.share')
  async audit(@CurrentCaller() caller: Caller, @Param('deviceId') deviceId: string, @Query() query: unknown) {
    const { after, limit } = parseInput(auditQuerySchema, query);
    return { entries: await this.grants.auditLog(caller, deviceId, after ?? null, limit) };
  }
}
