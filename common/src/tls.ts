/**
 * TLS settings of every listener we expose: TLS 1.2 and 1.3 only, and for TLS 1.2 only ECDHE key
 * exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305), so every session has forward secrecy.
 * TLS 1.3's own suites all qualify and stay at Node's defaults.
 */
export const TLS_MIN_VERSION = 'TLSv1.2' as const;

export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const TLS13_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
].join(':');

export const SECURE_TLS_OPTIONS = {
  minVersion: TLS_MIN_VERSION,
  ciphers: `${TLS13_CIPHERS}:${TLS12_CIPHERS}`,
  honorCipherOrder: true,
};
