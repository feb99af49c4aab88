import { randomBytes } from 'node:crypto';
import type { RunningService } from '@spincycle/common';
import {
  createTestDatabase,
  requiredSecretsEnv,
  serviceTestEnv,
  type TestDatabase,
} from '@spincycle/common/testing';
import { start as startDeviceService } from '@spincycle/device-service';
import { config as deviceServiceConfig } from '@spincycle/device-service/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpDeviceRelease } from '../src/accounts/http-device-release.js';
import {
  asCaller,
  attemptLogin,
  loginForTokens,
  signUp,
  startStack,
  subjectOf,
  type Stack,
} from './support/stack.js';

const PASSWORD = 'a long enough secret';

/** Account deletion releases the account's devices through the real device-service. */
describe('device release on account deletion', () => {
  const internalToken = randomBytes(32).toString('base64url');
  let deviceDb: TestDatabase;
  let devices: RunningService;
  let stack: Stack;

  beforeAll(async () => {
    deviceDb = await createTestDatabase('device-release');
    devices = await startDeviceService(
      serviceTestEnv(deviceDb, {
        PORT: '0',
        ...requiredSecretsEnv(deviceServiceConfig),
        INTERNAL_API_TOKEN: internalToken,
      }),
    );
    stack = await startStack({ DEVICE_SERVICE_URL: devices.url, DEVICE_SERVICE_TOKEN: internalToken });
  });

  afterAll(async () => {
    await stack?.close();
    await devices?.close();
    await deviceDb?.drop();
  });

  it("calls device-service's release for the deleted account", async () => {
    expect((await signUp(stack, 'mover@example.com', PASSWORD)).status).toBe(201);
    const tokens = await loginForTokens(stack, 'mover@example.com', PASSWORD);
    const auth = await asCaller(stack.identity, await subjectOf(stack, tokens.access_token));
    expect((await fetch(`${stack.users.url}/me`, { method: 'DELETE', headers: auth })).status).toBe(204);
    expect((await attemptLogin(stack, 'mover@example.com', PASSWORD)).status).toBe(401);
  });

  it('keeps the account when device-service refuses to release its devices', async () => {
    const wrongToken = randomBytes(32).toString('base64url');
    await expect(new HttpDeviceRelease(devices.url, wrongToken).releaseDevicesOf('someone')).rejects.toThrow(
      /HTTP 401/,
    );
    const misconfigured = await startStack({
      DEVICE_SERVICE_URL: devices.url,
      DEVICE_SERVICE_TOKEN: wrongToken,
    });
    try {
      expect((await signUp(misconfigured, 'stayer@example.com', PASSWORD)).status).toBe(201);
      const tokens = await loginForTokens(misconfigured, 'stayer@example.com', PASSWORD);
      const auth = await asCaller(
        misconfigured.identity,
        await subjectOf(misconfigured, tokens.access_token),
      );
      const deletion = await fetch(`${misconfigured.users.url}/me`, { method: 'DELETE', headers: auth });
      expect(deletion.status).toBeGreaterThanOrEqual(500);
      // Nothing was deleted: the account still logs in, and the deletion can be retried.
      expect((await attemptLogin(misconfigured, 'stayer@example.com', PASSWORD)).status).not.toBe(401);
    } finally {
      await misconfigured.close();
    }
  });
});
