import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, UseGuards } from '@nestjs/common';
import { AuthorizationCache } from '../acl/authorization-cache.js';
import { identifier, parseInput } from '../http/validation.js';
import { CertificatesService } from '../pki/certificates.service.js';
import { deviceWriteSchema, grantWriteSchema, revocationSchema, serviceWriteSchema } from './facts.dto.js';
import { FactsService } from './facts.service.js';
import { InternalTokenGuard } from './internal-token.guard.js';
import { serialParam } from '../pki/enrolment.dto.js';

/**
 * The internal API device-service feeds cert-service's facts through (documented in
 * docs/protocol.md). Never routed by the public gateway; every call carries the service token.
 */
@Controller('internal/v1')
@UseGuards(InternalTokenGuard)
export class InternalController {
  constructor(
    private readonly facts: FactsService,
    private readonly certificates: CertificatesService,
    private readonly cache: AuthorizationCache,
  ) {}

  /** Operators' view of the decision cache: how many decisions concern a device, and in all. */
  @Get('decision-cache/devices/:deviceId')
  decisionCache(@Param('deviceId') deviceId: string) {
    return {
      deviceEntries: this.cache.entriesForDevice(parseInput(identifier, deviceId)),
      totalEntries: this.cache.decisions.size,
    };
  }

  @Put('devices/:deviceId')
  putDevice(@Param('deviceId') deviceId: string, @Body() body: unknown) {
    return this.facts.putDevice(parseInput(identifier, deviceId), parseInput(deviceWriteSchema, body));
  }

  @Get('devices/:deviceId')
  getDevice(@Param('deviceId') deviceId: string) {
    return this.facts.getDevice(parseInput(identifier, deviceId));
  }

  @Delete('devices/:deviceId')
  @HttpCode(204)
  async deleteDevice(@Param('deviceId') deviceId: string): Promise<void> {
    await this.facts.deleteDevice(parseInput(identifier, deviceId));
  }

  @Put('grants/:grantId')
  @HttpCode(204)
  async putGrant(@Param('grantId') grantId: string, @Body() body: unknown): Promise<void> {
    await this.facts.putGrant(parseInput(identifier, grantId), parseInput(grantWriteSchema, body));
  }

  @Delete('grants/:grantId')
  @HttpCode(204)
  async deleteGrant(@Param('grantId') grantId: string): Promise<void> {
    await this.facts.deleteGrant(parseInput(identifier, grantId));
  }

  @Put('services/:serviceId')
  @HttpCode(204)
  async putService(@Param('serviceId') serviceId: string, @Body() body: unknown): Promise<void> {
    const { secret, permissions } = parseInput(serviceWriteSchema, body);
    await this.facts.putService(parseInput(identifier, serviceId), secret, permissions);
  }

  @Delete('services/:serviceId')
  @HttpCode(204)
  async deleteService(@Param('serviceId') serviceId: string): Promise<void> {
    await this.facts.deleteService(parseInput(identifier, serviceId));
  }

  @Get('devices/:deviceId/certificates')
  listCertificates(@Param('deviceId') deviceId: string) {
    return this.certificates.listForDevice(parseInput(identifier, deviceId));
  }

  @Post('devices/:deviceId/certificates/revoke')
  @HttpCode(200)
  async revokeDeviceCertificates(@Param('deviceId') deviceId: string, @Body() body: unknown) {
    const { reason } = parseInput(revocationSchema, body);
    const revoked = await this.certificates.revokeDevice(parseInput(identifier, deviceId), reason);
    return { revoked: revoked.map((r) => r.serial) };
  }

  @Get('certificates/:serial')
  getCertificate(@Param('serial') serial: string) {
    return this.certificates.find(parseInput(serialParam, serial));
  }

  @Post('certificates/:serial/revoke')
  @HttpCode(200)
  revokeCertificate(@Param('serial') serial: string, @Body() body: unknown) {
    return this.certificates.revokeSerial(
      parseInput(serialParam, serial),
      parseInput(revocationSchema, body).reason,
    );
  }

  /** Factory provisioning of a device that cannot make its own key: returned once, never stored. */
  @Post('devices/:deviceId/legacy-credentials')
  @HttpCode(201)
  async issueLegacy(@Param('deviceId') deviceId: string) {
    const issued = await this.certificates.issueLegacy(parseInput(identifier, deviceId));
    return {
      serial: issued.serial,
      certificate: issued.certificatePem,
      chain: issued.chainPem,
      privateKey: issued.privateKeyPem,
      notAfter: issued.notAfter.toISOString(),
    };
  }
}
