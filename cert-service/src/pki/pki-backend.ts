import type { DeviceCsr } from './x509-util.js';

/** A certificate a backend signed, with the chain up to (and including) the root. */
export interface SignedCertificate {
  certificatePem: string;
  chainPem: string[];
  /** Lowercase hex without separators. */
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

export interface IssuedKeyPair extends SignedCertificate {
  privateKeyPem: string;
}

export interface SignRequest {
  /** A CSR whose signature and key the caller has already checked. */
  csrPem: string;
  /** The same CSR as the caller parsed it, so that a backend reading it need not parse it again. */
  csr?: DeviceCsr;
  deviceId: string;
  validityDays: number;
}

/**
 * The certificate authority behind device enrolment: the embedded local CA or Vault's PKI engine,
 * chosen by PKI_BACKEND. Every backend forces the subject to CN=<device id> and client-auth usage,
 * whatever the CSR asks for.
 */
export interface PkiBackend {
  readonly name: 'local' | 'vault';
  signCsr(request: SignRequest): Promise<SignedCertificate>;
  /** For devices that cannot make keys: the backend makes one, and it is returned once. */
  issueWithKey(request: { deviceId: string; validityDays: number }): Promise<IssuedKeyPair>;
  revoke(serial: string): Promise<void>;
  caChainPem(): Promise<string[]>;
  crlPem(): Promise<string>;
}

export const PKI_BACKEND = Symbol('PKI_BACKEND');

/** Vault writes serials as colon-separated hex; certificates carry them as plain hex. */
export function normalizeSerial(serial: string): string {
  return serial
    .replace(/[:-]/g, '')
    .toLowerCase()
    .replace(/^(00)+(?=..)/, '');
}

export function colonSerial(serial: string): string {
  const hex = serial.length % 2 === 0 ? serial : `0${serial}`;
  return hex.match(/../g)?.join(':') ?? hex;
}
