import { applyDecorators, UseFilters, UseGuards } from '@nestjs/common';
import { DomainErrorFilter } from '../errors.js';
import { IdentityGuard } from './identity.guard.js';

/** A controller reached through the access proxy: identified callers only, domain errors mapped. */
export const PublicApi = () => applyDecorators(UseGuards(IdentityGuard), UseFilters(DomainErrorFilter));
