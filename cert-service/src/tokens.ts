/** Injection tokens of cert-service's own providers. */
export const CERT_CONFIG = Symbol('CERT_CONFIG');
/** How long issued device certificates last: 365 days, shorter only where a test embeds the service. */
export const DEVICE_CERTIFICATE_DAYS = Symbol('DEVICE_CERTIFICATE_DAYS');
