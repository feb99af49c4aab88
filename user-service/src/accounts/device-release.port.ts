/**
 * Releases the devices of a deleted account in device-service: unclaims them, ends their grants
 * and has their certificates revoked (HttpDeviceRelease). Without DEVICE_SERVICE_URL and
 * DEVICE_SERVICE_TOKEN nothing is bound under DEVICE_RELEASE, and account deletion records in the
 * audit log that the devices are still to be released.
 */
export interface DeviceReleasePort {
  releaseDevicesOf(userId: string): Promise<void>;
}

export const DEVICE_RELEASE = Symbol('DEVICE_RELEASE');
