import type { AclContract } from './acl-contract.js';
import { SERVICE_PERMISSIONS } from '../../src/acl/topic-acl.js';
import { expiryOf } from './acl-contract.js';
import type { CertServiceUnderTest } from './cert-service.js';
import { makeCsr, pemToDerBase64 } from './device-keys.js';

/** The credentials each actor of the ACL table connects with, once its facts are loaded. */
export interface ContractCredentials {
  passwordOf(actor: string): string;
  /** base64 DER of the device's enrolled certificate, as VerneMQ forwards it in client_cert. */
  certificateOf(deviceId: string): string | undefined;
  expiredTokenOf(user: string): string;
}

export const mqttPasswordOf = (deviceId: string) => `${deviceId}-mqtt-password-0123456789`;
export const enrolmentSecretOf = (deviceId: string) => `${deviceId}-enrolment-secret-0123456789`;
const serviceSecretOf = (service: string) => `${service}-service-secret-0123456789`;
const tokenOf = (user: string) => `access-token-of-${user}`;

/**
 * Loads the table's facts through the internal API, as device-service will, and enrols every
 * active device's certificate through the public enrolment endpoint.
 */
export async function loadContractFacts(
  sut: CertServiceUnderTest,
  contract: AclContract,
  now = new Date(),
): Promise<ContractCredentials> {
  const certificates = new Map<string, string>();
  for (const [id, device] of Object.entries(contract.facts.devices)) {
    // Provisioned active first, so a device the table shows revoked had a certificate to lose.
    await sut.expectOk(
      sut.internal('PUT', `/devices/${id}`, {
        status: 'active',
        ownerId: device.owner,
        mqttPassword: mqttPasswordOf(id),
        enrolmentSecret: enrolmentSecretOf(id),
      }),
    );
    const keys = await makeCsr();
    const enrolled = await sut.expectOk(
      sut.request('POST', '/v1/pki/enrolments', {
        body: { deviceId: id, csr: keys.csrPem, enrolmentSecret: enrolmentSecretOf(id) },
      }),
      201,
    );
    certificates.set(id, pemToDerBase64((enrolled.body as { certificate: string }).certificate));
    if (device.status !== 'active') {
      await sut.expectOk(
        sut.internal('PUT', `/devices/${id}`, { status: device.status, ownerId: device.owner }),
      );
    }
  }
  for (const [i, grant] of contract.facts.grants.entries()) {
    await sut.expectOk(
      sut.internal('PUT', `/grants/grant-${i}`, {
        technicianId: grant.technician,
        deviceId: grant.device,
        scope: grant.scope,
        expiresAt: expiryOf(grant.expires, now).toISOString(),
        revoked: grant.revoked ?? false,
      }),
      204,
    );
  }
  for (const id of Object.keys(contract.facts.services)) {
    await sut.expectOk(
      sut.internal('PUT', `/services/${id}`, {
        secret: serviceSecretOf(id),
        permissions: SERVICE_PERMISSIONS,
      }),
      204,
    );
  }
  const hour = Math.floor(now.getTime() / 1000) + 3600;
  for (const user of [...Object.keys(contract.facts.users), 'unknown']) {
    sut.introspection.tokens.set(tokenOf(user), { sub: user, exp: hour });
    sut.introspection.tokens.set(`expired-${tokenOf(user)}`, { sub: user, exp: hour - 7200 });
  }
  return {
    passwordOf: (actor) =>
      actor in contract.facts.devices
        ? mqttPasswordOf(actor)
        : actor in contract.facts.services
          ? serviceSecretOf(actor)
          : tokenOf(actor),
    certificateOf: (deviceId) => certificates.get(deviceId),
    expiredTokenOf: (user) => `expired-${tokenOf(user)}`,
  };
}
