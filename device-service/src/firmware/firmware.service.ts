import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Inject, Injectable, Optional } from '@nestjs/common';
import pLimit from 'p-limit';
import {
  COMMAND_PUBLISHER,
  type CommandPublisher,
  type FirmwareOffer,
} from '../commands/command-publisher.js';
import { MODELS } from '../devices/models.js';
import {
  DependencyUnavailable,
  FirmwareNotFound,
  FirmwareSignatureInvalid,
  FirmwareTooLarge,
  FirmwareUploadsDisabled,
  FirmwareVersionExists,
  InvalidInput,
} from '../errors.js';
import { requireAdmin } from '../identity/admin.js';
import type { Caller } from '../identity/caller.js';
import { isUpgrade, parseVersion } from './firmware-version.js';
import { FirmwareRepository, type Firmware, type RolloutTarget } from './firmware.repository.js';
import { FirmwareStore, ImageTooLarge } from './firmware.store.js';
import { FirmwareSigningKeys } from './signing-keys.js';

export const FIRMWARE_OPTIONS = Symbol('FIRMWARE_OPTIONS');

/** Firmware offers awaiting the broker's PUBACK at once, during one rollout. */
const ROLLOUT_CONCURRENCY = 32;

export interface FirmwareOptions {
  store: FirmwareStore;
  keys: FirmwareSigningKeys;
  maxBytes: number;
  /** Base of the download URL put in offers; known once the download listener is bound. */
  downloadBaseUrl: () => string;
}

export interface UploadRequest {
  model: string;
  version: string;
  keyId: string;
  signature: Buffer;
}

export interface FirmwareJson {
  id: string;
  model: string;
  version: string;
  sizeBytes: number;
  sha256: string;
  signature: string;
  keyId: string;
  uploadedAt: Date;
}

export interface RolloutResult {
  offered: string[];
  skipped: { deviceId: string; reason: string }[];
}

/** Why a device may not download an image; null when it may. */
export type DownloadRefusal = 'unknown device' | 'device not active' | 'firmware not found' | 'downgrade';

const toJson = (f: Firmware): FirmwareJson => ({
  id: f.id,
  model: f.model,
  version: f.version,
  sizeBytes: f.sizeBytes,
  sha256: f.sha256.toString('hex'),
  signature: f.signature.toString('base64'),
  keyId: f.signingKeyId,
  uploadedAt: f.uploadedAt,
});

/**
 * The OTA firmware catalogue: admins upload signed images and roll them out; devices download
 * them over mutual TLS. The signature is checked on upload against the configured public keys,
 * and a device is never offered, nor allowed to fetch, a version lower than or equal to the one it
 * runs (rollback protection; the device checks the signature itself too).
 */
@Injectable()
export class FirmwareService {
  constructor(
    private readonly firmware: FirmwareRepository,
    @Inject(FIRMWARE_OPTIONS) private readonly options: FirmwareOptions,
    @Optional() @Inject(COMMAND_PUBLISHER) private readonly commands?: CommandPublisher,
  ) {}

  async upload(caller: Caller, request: UploadRequest, body: Readable): Promise<FirmwareJson> {
    requireAdmin(caller, 'admin.firmware');
    if (this.options.keys.size === 0) throw new FirmwareUploadsDisabled();
    const version = parseVersion(request.version);
    const problems = [
      ...(version ? [] : ['version: must be major.minor.patch']),
      ...(request.model in MODELS ? [] : [`model: must be one of ${Object.keys(MODELS).join(', ')}`]),
      ...(this.options.keys.has(request.keyId) ? [] : ['keyId: is not a configured signing key']),
      ...(request.signature.length === 64
        ? []
        : ['signature: must be a base64 Ed25519 signature (64 bytes)']),
    ];
    if (problems.length > 0 || !version) throw new InvalidInput(problems);
    // Refused before the image is read, so a repeated upload costs no disk or bandwidth.
    if (await this.firmware.exists(request.model, request.version)) throw new FirmwareVersionExists();

    const staged = await this.options.store.stage(body, this.options.maxBytes).catch((err: unknown) => {
      if (err instanceof ImageTooLarge) throw new FirmwareTooLarge(err.maxBytes);
      throw err;
    });
    try {
      if (staged.sizeBytes === 0) throw new InvalidInput(['body: the firmware image is empty']);
      if (!this.options.keys.verifies(request.keyId, staged.sha256, request.signature)) {
        throw new FirmwareSignatureInvalid(`not signed by key ${request.keyId}`);
      }
      const id = randomUUID();
      await this.options.store.accept(staged, id);
      await this.firmware
        .insert({
          id,
          model: request.model,
          version: request.version,
          parsedVersion: version,
          sizeBytes: staged.sizeBytes,
          sha256: staged.sha256,
          signature: request.signature,
          signingKeyId: request.keyId,
          uploadedBy: caller.id,
        })
        .catch(async (err: unknown) => {
          // The same version uploaded at the same moment: keep no file without a row.
          await this.options.store.remove(id);
          throw err;
        });
      return toJson((await this.firmware.find(id)) as Firmware);
    } finally {
      await this.options.store.discard(staged);
    }
  }

  async list(caller: Caller, model: string | null): Promise<FirmwareJson[]> {
    requireAdmin(caller, 'admin.firmware');
    return (await this.firmware.list(model)).map(toJson);
  }

  async get(caller: Caller, firmwareId: string) {
    requireAdmin(caller, 'admin.firmware');
    const firmware = await this.load(firmwareId);
    return { ...toJson(firmware), rollouts: await this.firmware.rollouts(firmwareId) };
  }

  /**
   * Offers the image to the named devices (or every device of its model) that run an older
   * version. Each offer is handed to the broker before it is recorded; a device that the broker
   * could not be told about is reported as skipped. Offers go out ROLLOUT_CONCURRENCY at a time:
   * one by one, each waiting for its PUBACK, a model of 10,000 machines would hold the request for
   * tens of seconds; all at once, they would flood the broker's in-flight window.
   */
  async rollout(
    caller: Caller,
    firmwareId: string,
    deviceIds: readonly string[] | null,
  ): Promise<RolloutResult> {
    requireAdmin(caller, 'admin.firmware');
    const firmware = await this.load(firmwareId);
    if (!this.commands)
      throw new DependencyUnavailable('sending firmware offers to devices (MQTT_URL is unset)');
    const targets = await this.firmware.targets(firmware.model, deviceIds);
    const found = new Set(targets.map((t) => t.id));
    const result: RolloutResult = {
      offered: [],
      skipped: (deviceIds ?? [])
        .filter((id) => !found.has(id))
        .map((deviceId) => ({ deviceId, reason: 'unknown device' })),
    };
    const offer = this.offerFor(firmware);
    const commands = this.commands;
    const limit = pLimit(ROLLOUT_CONCURRENCY);
    const outcomes = await Promise.all(
      targets.map((target) =>
        limit(async (): Promise<string | null> => {
          const reason = this.refusal(target, firmware);
          if (reason) return reason;
          try {
            await commands.offerFirmware(target.id, offer);
          } catch {
            return 'broker did not take the offer';
          }
          await this.firmware.recordOffer(firmware.id, target.id, caller.id);
          return null;
        }),
      ),
    );
    targets.forEach((target, i) => {
      const reason = outcomes[i];
      if (reason) result.skipped.push({ deviceId: target.id, reason });
      else result.offered.push(target.id);
    });
    return result;
  }

  /** Decides a device's download of an image; the device id comes from its verified certificate. */
  async authorizeDownload(
    deviceId: string,
    firmwareId: string,
  ): Promise<{ firmware: Firmware } | { refused: DownloadRefusal }> {
    const [device, firmware] = await Promise.all([
      this.firmware.downloader(deviceId),
      this.firmware.find(firmwareId),
    ]);
    if (!device) return { refused: 'unknown device' };
    if (device.status !== 'active') return { refused: 'device not active' };
    // Another model's image is as good as absent: ids of other catalogues are not confirmed.
    if (!firmware || firmware.model !== device.model) return { refused: 'firmware not found' };
    if (!isUpgrade(device.firmwareVersion, firmware.parsedVersion)) return { refused: 'downgrade' };
    return { firmware };
  }

  get store(): FirmwareStore {
    return this.options.store;
  }

  private refusal(target: RolloutTarget, firmware: Firmware): string | null {
    if (target.model !== firmware.model) return `model ${target.model} cannot run ${firmware.model} firmware`;
    if (target.status !== 'active') return `device ${target.status}`;
    if (!isUpgrade(target.firmwareVersion, firmware.parsedVersion)) {
      return `runs ${target.firmwareVersion}, not older than ${firmware.version}`;
    }
    return null;
  }

  private offerFor(firmware: Firmware): FirmwareOffer {
    return {
      type: 'firmware',
      firmwareId: firmware.id,
      version: firmware.version,
      url: `${this.options.downloadBaseUrl()}/v1/firmware/${firmware.id}`,
      sizeBytes: firmware.sizeBytes,
      sha256: firmware.sha256.toString('hex'),
      signature: firmware.signature.toString('base64'),
      keyId: firmware.signingKeyId,
      offeredAt: new Date().toISOString(),
    };
  }

  private async load(firmwareId: string): Promise<Firmware> {
    const firmware = await this.firmware.find(firmwareId);
    if (!firmware) throw new FirmwareNotFound();
    return firmware;
  }
}
