import { Readable } from 'node:stream';
import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { UnsupportedMediaType } from '../errors.js';
import { CurrentCaller, RequireScope, type Caller } from '../identity/caller.js';
import { PublicApi } from '../identity/public-api.js';
import { parseInput } from '../validation.js';
import { FirmwareService } from './firmware.service.js';

const uploadQuery = z
  .object({
    model: z.string().min(1).max(64),
    version: z.string().min(1).max(32),
    keyId: z.string().min(1).max(64),
    // base64 or base64url; a `+` that a client forgot to escape arrives as a space.
    signature: z
      .string()
      .max(200)
      .transform((s) => s.replace(/ /g, '+'))
      .refine((s) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(s), 'must be base64'),
  })
  .strict();

const rolloutBody = z
  .object({ deviceIds: z.array(z.string().min(1).max(128)).min(1).max(10_000).optional() })
  .strict();

const listQuery = z.object({ model: z.string().min(1).max(64).optional() }).strict();

@Controller('admin/firmware')
@PublicApi()
export class FirmwareController {
  constructor(private readonly firmware: FirmwareService) {}

  /**
   * The image is the request body (`application/octet-stream`), streamed to disk, never held in
   * memory; what it is and who signed it are in the query.
   */
  @Post()
  @HttpCode(201)
  @RequireScope('admin.firmware')
  upload(@CurrentCaller() caller: Caller, @Query() query: unknown, @Body() body: unknown) {
    if (!(body instanceof Readable)) {
      throw new UnsupportedMediaType('send the firmware image as application/octet-stream');
    }
    const request = parseInput(uploadQuery, query);
    return this.firmware.upload(
      caller,
      { ...request, signature: Buffer.from(request.signature, 'base64') },
      body,
    );
  }

  @Get()
  @RequireScope('admin.firmware')
  async list(@CurrentCaller() caller: Caller, @Query() query: unknown) {
    return { firmware: await this.firmware.list(caller, parseInput(listQuery, query).model ?? null) };
  }

  @Get(':firmwareId')
  @RequireScope('admin.firmware')
  get(@CurrentCaller() caller: Caller, @Param('firmwareId') firmwareId: string) {
    return this.firmware.get(caller, firmwareId);
  }

  /** `{deviceIds}` names the devices; without it, every device of the image's model. */
  @Post(':firmwareId/rollouts')
  @HttpCode(200)
  @RequireScope('admin.firmware')
  rollout(@CurrentCaller() caller: Caller, @Param('firmwareId') firmwareId: string, @Body() body: unknown) {
    const { deviceIds } = parseInput(rolloutBody, body ?? {});
    return this.firmware.rollout(caller, firmwareId, deviceIds ?? null);
  }
}
