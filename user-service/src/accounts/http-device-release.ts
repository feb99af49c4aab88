import type { DeviceReleasePort } from './device-release.port.js';

/**
 * Releases a deleted account's devices through device-service's internal API
 * (POST /internal/v1/users/:userId/release-devices, bearer service token). A failure throws, so the
 * account record is kept and the deletion can be retried rather than leaving claimed devices behind.
 */
export class HttpDeviceRelease implements DeviceReleasePort {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async releaseDevicesOf(userId: string): Promise<void> {
    const url = new URL(`/internal/v1/users/${encodeURIComponent(userId)}/release-devices`, this.baseUrl);
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`device-service refused to release the devices: HTTP ${res.status}`);
  }
}
