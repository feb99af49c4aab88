import { Injectable } from '@nestjs/common';
import { AccessRepository } from '../access/access.repository.js';
import { Permission } from '../access/permission.js';
import { requireAccess } from '../access/require-access.js';
import type { Caller } from '../identity/caller.js';
import { encodeCursor, type EventQueryParams } from './events.dto.js';
import { EventsRepository, type StoredEvent } from './events.repository.js';

/** Reading what a device reported. */
@Injectable()
export class EventsService {
  constructor(
    private readonly events: EventsRepository,
    private readonly access: AccessRepository,
  ) {}

  async list(
    caller: Caller,
    deviceId: string,
    query: EventQueryParams,
  ): Promise<{ events: StoredEvent[]; nextCursor: string | null }> {
    await requireAccess(this.access, { caller, permission: Permission.EventsRead, ids: [deviceId] });
    const { events, last } = await this.events.page({
      deviceId,
      before: query.before ?? null,
      from: query.from ?? null,
      to: query.to ?? null,
      limit: query.limit,
    });
    // A full page may have more behind it; a short one is the end.
    return { events, nextCursor: last && events.length === query.limit ? encodeCursor(last) : null };
  }
}
