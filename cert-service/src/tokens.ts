/** Injection tokens of cert-service's own providers. */
export const CERT_CONFIG = Symbol('CERT_CONFIG');
