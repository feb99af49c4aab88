// @peculiar/x509 needs the Reflect metadata API loaded before it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { Logger } from '@spincycle/common';

/** The device CA chain and CRL the device listener verifies client certificates against. */
export interface DeviceTrust {
  ca: string;
  crl: string;
  /** Revoked serial numbers, lower-case hex without leading zeros, to drop live sessions. */
  revoked: Set<string>;
}

export function normaliseSerial(serial: string): string {
  return serial.toLowerCase().replace(/^0+(?=.)/, '');
}

async function fetchText(url: string, what: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${what} from ${url}: HTTP ${res.status}`);
  }
  return res.text();
}

export async function loadDeviceTrust(caUrl: string, crlUrl: string): Promise<DeviceTrust> {
  const [ca, crl] = await Promise.all([fetchText(caUrl, 'device CA'), fetchText(crlUrl, 'device CRL')]);
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`device CA from ${caUrl} is not PEM`);
  const parsed = new x509.X509Crl(crl);
  return {
    ca,
    // OpenSSL reads only the `X509 CRL` PEM label; re-encoding accepts any label the issuer used.
    crl: x509.PemConverter.encode(parsed.rawData, 'X509 CRL'),
    revoked: new Set(parsed.entries.map((e) => normaliseSerial(e.serialNumber))),
  };
}

/**
 * Reads the trust material until it arrives: at start cert-service may still be coming up, and
 * without a CA the device listener must not open (it could verify nothing).
 */
export async function waitForDeviceTrust(
  caUrl: string,
  crlUrl: string,
  logger: Logger,
  deadlineMs: number,
): Promise<DeviceTrust> {
  const deadline = Date.now() + deadlineMs;
  let delay = 200;
  for (;;) {
    try {
      return await loadDeviceTrust(caUrl, crlUrl);
    } catch (err) {
      if (Date.now() + delay > deadline) throw err;
      logger.info({ reason: (err as Error).message }, 'device CA not available yet; retrying');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }
}
