import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CERT_SERVICE_CLIENT, type CertServiceClient } from '../cert-service/cert-service.client.js';
import { DevicesRepository } from '../devices/devices.repository.js';
import { SerialTaken } from '../errors.js';
import { requireAdmin } from '../identity/admin.js';
import type { Caller } from '../identity/caller.js';
import { newClaimCode, newMachineSecret, normalizeClaimCode, SecretHasher } from '../secrets/secrets.js';
import { claimLabelSvg } from './claim-label.js';
import type { ProvisionBatch } from './provisioning.dto.js';

/** One provisioned machine as the factory receives it: the only time its secrets are shown. */
export interface ManifestEntry {
  id: string;
  serial: string;
  model: string;
  hardwareRevision: string;
  claimCode: string;
  mqttPassword: string;
  enrolmentSecret: string;
  labelSvg: string;
}

/** Factory provisioning: makes devices and their secrets, keeps only keyed hashes. */
@Injectable()
export class ProvisioningService {
  constructor(
    private readonly devices: DevicesRepository,
    private readonly hasher: SecretHasher,
    @Inject(CERT_SERVICE_CLIENT) private readonly certService: CertServiceClient,
  ) {}

  async provision(caller: Caller, batch: ProvisionBatch): Promise<ManifestEntry[]> {
    requireAdmin(caller, 'admin.provision');
    const taken = await this.devices.existingSerials(batch.devices.map((d) => d.serial));
    if (taken.length > 0) throw new SerialTaken(taken);

    const entries = await Promise.all(
      batch.devices.map(async (d) => {
        const claimCode = newClaimCode();
        return {
          id: randomUUID(),
          ...d,
          claimCode,
          mqttPassword: newMachineSecret(),
          enrolmentSecret: newMachineSecret(),
          labelSvg: await claimLabelSvg(d.serial, claimCode),
        };
      }),
    );
    // cert-service learns each device inside the transaction: if it cannot, no device is made, and
    // the ones it already learnt are removed again (their secrets were never shown to anyone).
    const told: string[] = [];
    try {
      await this.devices.transaction(async (manager) => {
        await this.devices.insertMany(
          entries.map((e) => ({
            ...e,
            claimCodeHash: this.hasher.hash('claim-code', normalizeClaimCode(e.claimCode)),
          })),
          manager,
        );
        for (const e of entries) {
          await this.certService.putDevice(e.id, {
            status: 'active',
            ownerId: null,
            mqttPassword: e.mqttPassword,
            enrolmentSecret: e.enrolmentSecret,
          });
          told.push(e.id);
        }
      });
    } catch (err) {
      await Promise.allSettled(told.map((id) => this.certService.deleteDevice(id)));
      throw err;
    }
    return entries;
  }
}
