import { UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import { describe, expect, it } from 'vitest';
import type { DeviceServiceConfig } from '../config.js';
import { InternalTokenGuard } from './internal-token.guard.js';

const TOKEN = 'user-service-token-0123456789abcdefghij';

const guardWith = (token: string | undefined) =>
  new InternalTokenGuard({ get: () => token } as unknown as ConfigService<DeviceServiceConfig, true>);

const requestWith = (authorization?: string) =>
  ({
    switchToHttp: () => ({ getRequest: () => ({ headers: { authorization } }) }),
  }) as unknown as ExecutionContext;

describe('InternalTokenGuard', () => {
  it('lets the configured token through', () => {
    expect(guardWith(TOKEN).canActivate(requestWith(`Bearer ${TOKEN}`))).toBe(true);
  });

  it.each([
    ['no token', undefined],
    ['a wrong token', 'Bearer user-service-token-0123456789abcdefghiX'],
    ['the token without the scheme', TOKEN],
    ['an empty bearer', 'Bearer '],
  ])('refuses %s', (_what, header) => {
    expect(() => guardWith(TOKEN).canActivate(requestWith(header))).toThrow(UnauthorizedException);
  });

  it('refuses everyone when no token is configured', () => {
    expect(() => guardWith(undefined).canActivate(requestWith(`Bearer ${TOKEN}`))).toThrow(
      UnauthorizedException,
    );
    expect(() => guardWith(undefined).canActivate(requestWith('Bearer '))).toThrow(UnauthorizedException);
  });
});
