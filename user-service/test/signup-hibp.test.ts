import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '@spincycle/common';
import { createTestDatabase, serviceTestEnv, type TestDatabase } from '@spincycle/common/testing';
import { start as startUserService } from '@spincycle/user-service';
import { startHibp, type RunningHibp } from './support/hibp.js';
import { signUp } from './support/stack.js';

// Sign-up against the real hibp-service, filter and all, rather than a stand-in of its contract:
// what user-service sends must be what hibp-service accepts, and its answer must stop the account.
const LEAKED = ['password1234', 'correct horse battery staple', 'Tr0ub4dor&3 again'];
const STRONG = 'a strong secret nobody leaked';

let hibp: RunningHibp;
let db: TestDatabase;
let users: RunningService;
beforeAll(async () => {
  hibp = await startHibp(LEAKED);
  db = await createTestDatabase('users-hibp');
  users = await startUserService(
    serviceTestEnv(db, { PORT: '0', HIBP_URL: hibp.url, BCRYPT_COST: '10', COOKIE_SECURE: 'false' }),
  );
});
afterAll(async () => {
  await users?.close();
  await hibp?.close();
  await db?.drop();
});

function errorText(page: string): string | undefined {
  return /<p class="error" role="alert">([^<]*)<\/p>/.exec(page)?.[1];
}

describe('sign-up with the real hibp-service', () => {
  it.each(LEAKED)(
    'refuses the leaked password %j with a clear message and creates no account',
    async (password) => {
      const email = `leaked.${LEAKED.indexOf(password)}@example.com`;
      const before = await hibp.checks();
      const refused = await signUp({ users }, email, password);
      expect(refused.status).toBe(422);
      expect(errorText(await refused.text())).toBe(
        'This password has appeared in a data breach, so attackers try it first. Choose another one.',
      );
      // hibp-service itself said "pwned": it refuses any body but {"sha1": "<40 hex>"}, so the
      // password never travelled.
      expect(await hibp.checks()).toEqual({ pwned: before.pwned + 1, clean: before.clean });
      // Nothing was created: the address is still free.
      expect((await signUp({ users }, email, STRONG)).status).toBe(201);
    },
  );

  it('accepts a strong password hibp-service does not know', async () => {
    const before = await hibp.checks();
    const created = await signUp({ users }, 'strong@example.com', STRONG);
    expect(created.status).toBe(201);
    expect(await hibp.checks()).toEqual({ pwned: before.pwned, clean: before.clean + 1 });
    const again = await signUp({ users }, 'strong@example.com', STRONG);
    expect(again.status).toBe(422);
    expect(errorText(await again.text())).toMatch(/exists/);
  });

  // Last: it stops the shared hibp-service.
  it('refuses sign-up with the retry message once hibp-service is stopped', async () => {
    await hibp.close();
    const response = await signUp({ users }, 'while.down@example.com', STRONG);
    expect(response.status).toBe(503);
    expect(errorText(await response.text())).toBe(
      'We cannot check new passwords right now, so we cannot accept one. Please try again in a few minutes.',
    );
    const metrics = await (await fetch(`${users.url}/metrics`)).text();
    expect(metrics).toMatch(/^user_leak_check_unavailable_total\{[^}]*\} 1$/m);
  });
});
