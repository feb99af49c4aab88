// The device CA and CRL are shared with every mutual-TLS listener; they live in common.
export { loadDeviceTrust, normaliseSerial, waitForDeviceTrust, type DeviceTrust } from '@spincycle/common';
