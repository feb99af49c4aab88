import { Catch, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

/** Domain errors, raised by services and turned into HTTP answers in one place (DomainErrorFilter). */
export abstract class DomainError extends Error {
  abstract readonly status: HttpStatus;
  /** Extra fields for the client; never a secret. */
  readonly details: Record<string, unknown> = {};
}

/** The device does not exist or the caller may not touch it: the same answer, so ids cannot be probed. */
export class DeviceNotFound extends DomainError {
  readonly status = HttpStatus.NOT_FOUND;
  constructor() {
    super('device not found');
  }
}

export class GrantNotFound extends DomainError {
  readonly status = HttpStatus.NOT_FOUND;
  constructor() {
    super('grant not found');
  }
}

export class AdminRequired extends DomainError {
  readonly status = HttpStatus.FORBIDDEN;
  constructor() {
    super('an administrator is required');
  }
}

export class InvalidInput extends DomainError {
  readonly status = HttpStatus.BAD_REQUEST;
  constructor(readonly problems: string[]) {
    super('invalid request');
    this.details.problems = problems;
  }
}

export class SerialTaken extends DomainError {
  readonly status = HttpStatus.CONFLICT;
  constructor(serials: string[]) {
    super('a device with this serial number already exists');
    this.details.serials = serials;
  }
}

export class ClaimRefused extends DomainError {
  readonly status = HttpStatus.FORBIDDEN;
  constructor() {
    super('serial number or claim code is wrong');
  }
}

export class AlreadyClaimed extends DomainError {
  readonly status = HttpStatus.CONFLICT;
  constructor() {
    super('device is already claimed; its owner must release it first');
  }
}

export class ClaimLockedOut extends DomainError {
  readonly status = HttpStatus.TOO_MANY_REQUESTS;
  constructor(readonly retryAfterSeconds: number) {
    super('too many wrong claim codes; try again later');
    this.details.retryAfterSeconds = retryAfterSeconds;
  }
}

export class TechnicianNotFound extends DomainError {
  readonly status = HttpStatus.NOT_FOUND;
  constructor() {
    super('no technician account has this e-mail address');
  }
}

export class DependencyUnavailable extends DomainError {
  readonly status = HttpStatus.BAD_GATEWAY;
  constructor(readonly dependency: string) {
    super(`${dependency} is unavailable; nothing was changed`);
  }
}

/** The broker did not take a command in time; it may still reach the device later. */
export class CommandNotDelivered extends DomainError {
  readonly status = HttpStatus.BAD_GATEWAY;
  constructor() {
    super('the message could not be handed to the broker; nothing was saved');
  }
}

export class UnsupportedMediaType extends DomainError {
  readonly status = HttpStatus.UNSUPPORTED_MEDIA_TYPE;
}

export class FirmwareNotFound extends DomainError {
  readonly status = HttpStatus.NOT_FOUND;
  constructor() {
    super('firmware not found');
  }
}

export class FirmwareVersionExists extends DomainError {
  readonly status = HttpStatus.CONFLICT;
  constructor() {
    super('this model already has a firmware image with this version');
  }
}

/** The image is not what a configured release key signed; nothing was kept. */
export class FirmwareSignatureInvalid extends DomainError {
  readonly status = HttpStatus.UNPROCESSABLE_ENTITY;
  constructor(reason: string) {
    super(`firmware signature refused: ${reason}`);
  }
}

export class FirmwareTooLarge extends DomainError {
  readonly status = HttpStatus.PAYLOAD_TOO_LARGE;
  constructor(maxBytes: number) {
    super(`firmware image exceeds ${maxBytes} bytes`);
  }
}

export class FirmwareUploadsDisabled extends DomainError {
  readonly status = HttpStatus.SERVICE_UNAVAILABLE;
  constructor() {
    super('firmware uploads are off: no signing key is configured (FIRMWARE_SIGNING_KEYS)');
  }
}

@Catch(DomainError)
export class DomainErrorFilter implements ExceptionFilter {
  catch(error: DomainError, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (error instanceof ClaimLockedOut) void reply.header('retry-after', String(error.retryAfterSeconds));
    void reply
      .status(error.status)
      .send({ statusCode: error.status, message: error.message, ...error.details });
  }
}
