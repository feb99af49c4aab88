import { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface EnrolledDevice {
  id: string;
  mqttPassword: string;
  cert: string;
  key: string;
}

/**
 * What each device does on its first start: make a key pair, send a CSR with its one-time
 * enrolment secret to cert-service, keep the certificate. `concurrency` requests at a time, with
 * a count on stderr, since a thousand of them take seconds.
 */
export async function enrolDevices(
  certServiceUrl: string,
  devices: readonly { id: string; mqttPassword: string; enrolmentSecret: string }[],
  concurrency = 16,
): Promise<EnrolledDevice[]> {
  const enrolled: EnrolledDevice[] = new Array(devices.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let i = next++; i < devices.length; i = next++) {
      const device = devices[i]!;
      const keys = (await webcrypto.subtle.generateKey(EC_P256, true, [
        'sign',
        'verify',
      ])) as webcrypto.CryptoKeyPair;
      const csr = await x509.Pkcs10CertificateRequestGenerator.create({
        name: `CN=${device.id}`,
        keys: keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'],
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      });
      const response = await fetch(`${certServiceUrl}/v1/pki/enrolments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          deviceId: device.id,
          csr: csr.toString('pem'),
          enrolmentSecret: device.enrolmentSecret,
        }),
      });
      if (response.status !== 201)
        throw new Error(`enrolment failed: ${response.status} ${await response.text()}`);
      const { certificate } = (await response.json()) as { certificate: string };
      const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
      enrolled[i] = {
        id: device.id,
        mqttPassword: device.mqttPassword,
        cert: certificate,
        key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
      };
      done++;
      if (process.stderr.isTTY) process.stderr.write(`\renrolled ${done}/${devices.length}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (process.stderr.isTTY) process.stderr.write('\n');
  return enrolled;
}
