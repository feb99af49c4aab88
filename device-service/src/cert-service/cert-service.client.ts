import { DependencyUnavailable } from '../errors.js';

export type DeviceStatus = 'active' | 'suspended' | 'revoked';
export type RevocationReason =
  'device_deleted' | 'unclaimed' | 'stolen' | 'superseded' | 'compromised' | 'other';

export interface DeviceFacts {
  status: DeviceStatus;
  ownerId: string | null;
  /** Sent once, when the device is made; cert-service keeps only its keyed hash. */
  mqttPassword?: string;
  enrolmentSecret?: string;
}

export interface GrantFacts {
  technicianId: string;
  deviceId: string;
  scope: 'read' | 'control';
  expiresAt: Date;
  revoked: boolean;
}

/**
 * What device-service tells cert-service whenever something changes a broker decision (ownership,
 * grants, device status, certificates), so cached decisions are dropped at once. The contract is
 * cert-service's internal API (docs/protocol.md).
 */
export interface CertServiceClient {
  putDevice(deviceId: string, facts: DeviceFacts): Promise<void>;
  deleteDevice(deviceId: string): Promise<void>;
  /** null when cert-service does not know the device. */
  deviceConnection(deviceId: string): Promise<DeviceConnection | null>;
  putGrant(grantId: string, facts: GrantFacts): Promise<void>;
  deleteGrant(grantId: string): Promise<void>;
  /** Registers a backend service's MQTT secret (cert-service keeps its keyed hash). */
  putService(serviceId: string, secret: string): Promise<void>;
  /** Revokes every certificate of the device; answers the revoked serials. */
  revokeCertificates(deviceId: string, reason: RevocationReason): Promise<string[]>;
}

/** Whether the broker has the device connected, as cert-service records it from the broker's hooks. */
export interface DeviceConnection {
  online: boolean;
  lastSeenAt: Date | null;
}

export const CERT_SERVICE_CLIENT = Symbol('CERT_SERVICE_CLIENT');

export interface HttpCertServiceClientOptions {
  baseUrl: string;
  token: string;
  timeoutMs: number;
}

/** The CertServiceClient over cert-service's internal HTTP API. */
export class HttpCertServiceClient implements CertServiceClient {
  constructor(private readonly options: HttpCertServiceClientOptions) {}

  async putDevice(deviceId: string, facts: DeviceFacts): Promise<void> {
    // Only the contract's fields: cert-service refuses any other.
    const { status, ownerId, mqttPassword, enrolmentSecret } = facts;
    await this.call('PUT', `devices/${encodeURIComponent(deviceId)}`, {
      status,
      ownerId,
      mqttPassword,
      enrolmentSecret,
    });
  }

  async deleteDevice(deviceId: string): Promise<void> {
    // Already gone is the state wanted.
    await this.call('DELETE', `devices/${encodeURIComponent(deviceId)}`, undefined, [404]);
  }

  async deviceConnection(deviceId: string): Promise<DeviceConnection | null> {
    const answer = (await this.call('GET', `devices/${encodeURIComponent(deviceId)}`, undefined, [404])) as
      { online?: unknown; lastSeenAt?: unknown } | undefined;
    if (answer === undefined) return null;
    return {
      online: answer.online === true,
      lastSeenAt: typeof answer.lastSeenAt === 'string' ? new Date(answer.lastSeenAt) : null,
    };
  }

  async putGrant(grantId: string, facts: GrantFacts): Promise<void> {
    const { technicianId, deviceId, scope, expiresAt, revoked } = facts;
    await this.call('PUT', `grants/${encodeURIComponent(grantId)}`, {
      technicianId,
      deviceId,
      scope,
      expiresAt: expiresAt.toISOString(),
      revoked,
    });
  }

  async deleteGrant(grantId: string): Promise<void> {
    await this.call('DELETE', `grants/${encodeURIComponent(grantId)}`, undefined, [404]);
  }

  async putService(serviceId: string, secret: string): Promise<void> {
    // device-service ingests events and state, sends settings as commands and offers firmware.
    const permissions = ['ingest', 'commands', 'ota'];
    await this.call('PUT', `services/${encodeURIComponent(serviceId)}`, { secret, permissions });
  }

  async revokeCertificates(deviceId: string, reason: RevocationReason): Promise<string[]> {
    const answer = await this.call('POST', `devices/${encodeURIComponent(deviceId)}/certificates/revoke`, {
      reason,
    });
    const revoked = (answer as { revoked?: unknown } | undefined)?.revoked;
    return Array.isArray(revoked) ? revoked.filter((s): s is string => typeof s === 'string') : [];
  }

  private async call(
    method: string,
    path: string,
    body?: unknown,
    alsoFine: number[] = [],
  ): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.options.baseUrl.replace(/\/$/, '')}/internal/v1/${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.options.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      throw new CertServiceCallFailed(method, path, err instanceof Error ? err.name : 'network error');
    }
    const text = await response.text();
    if (!response.ok && !alsoFine.includes(response.status)) {
      throw new CertServiceCallFailed(method, path, `HTTP ${response.status}`);
    }
    return text === '' || !response.ok ? undefined : (JSON.parse(text) as unknown);
  }
}

/** A call to cert-service failed; what changed here is rolled back and the client sees a 502. */
export class CertServiceCallFailed extends DependencyUnavailable {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly why: string,
  ) {
    super('certificate service');
  }
}
