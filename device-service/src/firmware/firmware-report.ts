import type { IncomingEvent } from '../events/events.repository.js';
import { parseVersion } from './firmware-version.js';
import type { FirmwareReport } from './firmware.repository.js';

/** The events a device reports an update's outcome with (docs/protocol.md, OTA). */
const OUTCOMES: Record<string, FirmwareReport['outcome']> = {
  'ota.installed': 'installed',
  'ota.failed': 'failed',
};

/**
 * Reads an update's outcome from a device event: `ota.installed` / `ota.failed` with
 * `data.version` (and, for a failure, `data.reason`). Anything else, or a version that is not
 * major.minor.patch, is no report; the event is stored as it came all the same.
 */
export function firmwareReport(event: IncomingEvent): FirmwareReport | null {
  const outcome = OUTCOMES[event.type];
  const data = event.payload as { version?: unknown; reason?: unknown };
  if (!outcome || typeof data.version !== 'string' || !parseVersion(data.version)) return null;
  return {
    deviceId: event.deviceId,
    version: data.version,
    outcome,
    detail: typeof data.reason === 'string' ? data.reason.slice(0, 500) : null,
    at: event.deviceTime ?? event.receivedAt,
  };
}
