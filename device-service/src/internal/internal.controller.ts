import { Controller, HttpCode, Param, Post, UseFilters, UseGuards } from '@nestjs/common';
import { ClaimsService } from '../claims/claims.service.js';
import { DomainErrorFilter } from '../errors.js';
import { InternalTokenGuard } from './internal-token.guard.js';

/** Calls from other services, never routed by the access proxy; every call carries the service token. */
@Controller('internal/v1')
@UseGuards(InternalTokenGuard)
@UseFilters(DomainErrorFilter)
export class InternalController {
  constructor(private readonly claims: ClaimsService) {}

  /** user-service deleted an account: its devices are released and its grants end. */
  @Post('users/:userId/release-devices')
  @HttpCode(200)
  releaseDevicesOf(@Param('userId') userId: string) {
    return this.claims.releaseAccount(userId);
  }
}
