import { Controller, Get, Param, Query } from '@nestjs/common';
import { CurrentCaller, RequireScope, type Caller } from '../identity/caller.js';
import { PublicApi } from '../identity/public-api.js';
import { parseInput } from '../validation.js';
import { eventQuerySchema } from './events.dto.js';
import { EventsService } from './events.service.js';

@Controller('devices/:deviceId/events')
@PublicApi()
export class EventsController {
  constructor(private readonly events: EventsService) {}

  /** Newest first; `before` is the nextCursor of the previous page, `from`/`to` bound received time. */
  @Get()
  @RequireScope('events.read')
  list(@CurrentCaller() caller: Caller, @Param('deviceId') deviceId: string, @Query() query: unknown) {
    return this.events.list(caller, deviceId, parseInput(eventQuerySchema, query));
  }
}
