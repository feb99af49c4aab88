/** Firmware versions are `major.minor.patch`: ordered numerically, so 1.10.0 is newer than 1.9.9. */
export interface FirmwareVersion {
  major: number;
  minor: number;
  patch: number;
}

export const VERSION_PATTERN = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/;

export function parseVersion(text: string): FirmwareVersion | null {
  const match = VERSION_PATTERN.exec(text);
  if (!match) return null;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

/** Negative when a is older than b, zero when equal, positive when newer. */
export function compareVersions(a: FirmwareVersion, b: FirmwareVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/**
 * Rollback protection: whether a device that runs `current` may be given `offered`. A device whose
 * version is unknown (never reported one) may take any; an unreadable report is treated as unknown
 * too, since refusing would strand the device on whatever it runs.
 */
export function isUpgrade(current: string | null, offered: FirmwareVersion): boolean {
  const running = current === null ? null : parseVersion(current);
  return running === null || compareVersions(offered, running) > 0;
}
