import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { AuthorizationCache } from '../acl/authorization-cache.js';
import type { ServicePermission } from '../acl/topic-acl.js';
import { BrokerSessions } from '../broker/broker-sessions.js';
import { CertificatesService } from '../pki/certificates.service.js';
import type { DeviceWriteBody, GrantWriteBody } from './facts.dto.js';
import { FactsRepository, type DeviceView } from './facts.repository.js';
import { SecretHasher } from './secret-hasher.js';

/**
 * The write side of the facts device-service feeds in. Every write reaches the decision cache
 * before it returns, so the broker is never answered from a fact that no longer holds.
 */
@Injectable()
export class FactsService {
  constructor(
    private readonly facts: FactsRepository,
    private readonly hasher: SecretHasher,
    private readonly cache: AuthorizationCache,
    private readonly certificates: CertificatesService,
    private readonly brokers: BrokerSessions,
  ) {}

  async putDevice(id: string, body: DeviceWriteBody): Promise<DeviceView> {
    const previous = await this.facts.findDevice(id);
    const view = await this.facts.upsertDevice({
      id,
      status: body.status,
      ownerId: body.ownerId,
      mqttPasswordHash:
        body.mqttPassword === undefined ? null : this.hasher.hash('mqtt-password', body.mqttPassword),
      enrolmentSecretHash:
        body.enrolmentSecret === undefined
          ? null
          : this.hasher.hash('enrolment-secret', body.enrolmentSecret),
    });
    await this.cache.deviceChanged(id);
    if (view === null) throw new BadRequestException('mqttPassword is required for a new device');
    if (view.status === 'revoked') await this.certificates.revokeDevice(id, 'compromised');
    if (previous) {
      const ownerLost = previous.ownerId !== null && previous.ownerId !== view.ownerId;
      this.brokers.accessEnded({
        usernames: ownerLost && previous.ownerId ? [previous.ownerId] : [],
        clientIds: view.status === 'active' ? [] : [id],
      });
    }
    return view;
  }

  async getDevice(id: string): Promise<DeviceView> {
    const view = await this.facts.findDevice(id);
    if (view === null) throw new NotFoundException('unknown device');
    return view;
  }

  async deleteDevice(id: string): Promise<void> {
    const previous = await this.facts.findDevice(id);
    const existed = await this.facts.deleteDevice(id);
    await this.cache.deviceChanged(id);
    await this.certificates.revokeDevice(id, 'device_deleted');
    if (!existed) throw new NotFoundException('unknown device');
    this.brokers.accessEnded({ usernames: previous?.ownerId ? [previous.ownerId] : [], clientIds: [id] });
  }

  async putGrant(id: string, body: GrantWriteBody): Promise<void> {
    const { previousDeviceId } = await this.facts.upsertGrant({ id, ...body });
    await this.cache.deviceChanged(body.deviceId);
    if (previousDeviceId !== null) await this.cache.deviceChanged(previousDeviceId);
    // Whatever the technician could do before may be more than the grant allows now.
    const narrowed =
      body.revoked ||
      body.expiresAt.getTime() <= Date.now() ||
      body.scope === 'read' ||
      (previousDeviceId !== null && previousDeviceId !== body.deviceId);
    if (narrowed) this.brokers.accessEnded({ usernames: [body.technicianId] });
  }

  async deleteGrant(id: string): Promise<void> {
    const deleted = await this.facts.deleteGrant(id);
    if (deleted === null) throw new NotFoundException('unknown grant');
    await this.cache.deviceChanged(deleted.deviceId);
    this.brokers.accessEnded({ usernames: [deleted.technicianId] });
  }

  async putService(id: string, secret: string, permissions: readonly ServicePermission[]): Promise<void> {
    const before = await this.facts.upsertService(
      id,
      this.hasher.hash('service-secret', secret),
      permissions,
    );
    await this.cache.identityChanged(id);
    // A subscription the broker granted stays until the session ends: a narrowed credential must
    // not keep reading through it.
    if (before?.some((p) => !permissions.includes(p))) this.brokers.accessEnded({ usernames: [id] });
  }

  async deleteService(id: string): Promise<void> {
    const existed = await this.facts.deleteService(id);
    await this.cache.identityChanged(id);
    if (!existed) throw new NotFoundException('unknown service');
    this.brokers.accessEnded({ usernames: [id] });
  }
}
