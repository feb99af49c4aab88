import bcrypt from 'bcrypt';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { attemptLogin, signUp, startStack, type Stack } from './support/stack.js';

// Both allowances are 3, and the test names each attempt's client address in the header the
// access proxy would write, so that each test's counters are its own.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    LOGIN_MAX_FAILURES_PER_ACCOUNT: '3',
    LOGIN_MAX_FAILURES_PER_IP: '3',
    CLIENT_ADDRESS_HEADER: 'x-forwarded-for',
  });
});
afterAll(async () => {
  await stack?.close();
});
// A test that fails midway must not leave requests held for the rest of the file.
let releaseHeld = () => {};
afterEach(() => {
  releaseHeld();
  vi.restoreAllMocks();
});

const PASSWORD = 'a long enough secret';
const from = (address: string) => ({ 'x-forwarded-for': address });

/**
 * Holds every bcrypt comparison until each of `attempts` is accounted for: it reached a comparison,
 * or it was refused as locked. While the comparisons are held no attempt has finished, so nothing
 * that is recorded only once a password has been checked is recorded yet: the worst case of a
 * burst of parallel guesses, reached without depending on how fast anything runs.
 */
function holdComparisons(attempts: number) {
  const compare = bcrypt.compare.bind(bcrypt) as (data: string, hash: string) => Promise<boolean>;
  let compared = 0;
  let refused = 0;
  const released = new Promise<void>((resolve) => (releaseHeld = resolve));
  const settle = () => {
    if (compared + refused >= attempts) releaseHeld();
  };
  vi.spyOn(bcrypt, 'compare').mockImplementation((async (data: string, hash: string) => {
    compared += 1;
    settle();
    await released;
    return compare(data, hash);
  }) as typeof bcrypt.compare);
  return {
    /** Runs the attempt, noting a refusal as soon as it arrives; answers the status. */
    async attempt(run: () => Promise<Response>): Promise<number> {
      const response = await run();
      await response.body?.cancel();
      if (response.status === 429) {
        refused += 1;
        settle();
      }
      return response.status;
    },
    compared: () => compared,
  };
}

const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

describe('login lockout under parallel guesses', () => {
  it('lets no more guesses at one account reach bcrypt than the allowance, from any number of addresses', async () => {
    expect((await signUp(stack, 'racer@example.com', PASSWORD)).status).toBe(201);
    const held = holdComparisons(10);
    const statuses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        held.attempt(() =>
          attemptLogin(stack, 'racer@example.com', `guess ${i}`, from(`203.0.113.${i + 1}`)),
        ),
      ),
    );
    expect(held.compared()).toBe(3);
    expect({ refused: count(statuses, 401), locked: count(statuses, 429) }).toEqual({
      refused: 3,
      locked: 7,
    });
    vi.restoreAllMocks();
    expect((await attemptLogin(stack, 'racer@example.com', PASSWORD, from('203.0.113.99'))).status).toBe(429);
  });

  it('lets no more guesses from one address reach bcrypt than the allowance, across accounts', async () => {
    const held = holdComparisons(10);
    const statuses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        held.attempt(() =>
          attemptLogin(stack, `spray${i}@example.com`, 'spray password', from('198.51.100.7')),
        ),
      ),
    );
    expect(held.compared()).toBe(3);
    expect({ refused: count(statuses, 401), locked: count(statuses, 429) }).toEqual({
      refused: 3,
      locked: 7,
    });
  });
});

describe('login attempts', () => {
  it('runs one bcrypt comparison at the cost of real hashes for an unknown address and for a wrong password', async () => {
    expect((await signUp(stack, 'known@example.com', PASSWORD)).status).toBe(201);
    const compare = vi.spyOn(bcrypt, 'compare');
    const comparedHashes = async (email: string, address: string) => {
      compare.mockClear();
      expect((await attemptLogin(stack, email, 'not the password', from(address))).status).toBe(401);
      return compare.mock.calls.map(([data, hash]) => [data, String(hash).slice(0, 7)]);
    };
    expect(await comparedHashes('known@example.com', '192.0.2.1')).toEqual([['not the password', '$2b$10$']]);
    expect(await comparedHashes('nobody@example.com', '192.0.2.2')).toEqual([
      ['not the password', '$2b$10$'],
    ]);
  });

  it('counts a successful login against neither its account nor its address', async () => {
    expect((await signUp(stack, 'regular@example.com', PASSWORD)).status).toBe(201);
    const address = from('192.0.2.50');
    for (const email of ['regular@example.com', 'stranger@example.com']) {
      expect((await attemptLogin(stack, email, 'not the password', address)).status).toBe(401);
    }
    // Each success was counted before its password was checked; the count is handed back.
    for (let i = 0; i < 3; i++) {
      expect((await attemptLogin(stack, 'regular@example.com', PASSWORD, address)).status).toBe(303);
    }
    // Two failures stand at the address, none at the account: the third locks the address.
    expect((await attemptLogin(stack, 'regular@example.com', 'wrong again', address)).status).toBe(401);
    expect((await attemptLogin(stack, 'regular@example.com', PASSWORD, address)).status).toBe(429);
    expect((await attemptLogin(stack, 'regular@example.com', PASSWORD, from('192.0.2.51'))).status).toBe(303);
  });
});

describe('sign-up and the address allowance', () => {
  it('counts each sign-up that finds an address in use as a failed login from the client address', async () => {
    expect((await signUp(stack, 'listed@example.com', PASSWORD, from('192.0.2.70'))).status).toBe(201);
    const prober = from('192.0.2.71');
    for (let i = 0; i < 3; i++) {
      const taken = await signUp(stack, 'listed@example.com', PASSWORD, prober);
      expect(taken.status).toBe(422);
      await taken.body?.cancel();
    }
    // The allowance is spent: the address learns nothing more, by sign-up or by login.
    const locked = await signUp(stack, 'unlisted@example.com', PASSWORD, prober);
    expect(locked.status).toBe(429);
    expect(await locked.text()).toMatch(/Too many failed attempts/);
    expect((await attemptLogin(stack, 'listed@example.com', PASSWORD, prober)).status).toBe(429);
    // Nothing was created while it was locked; others are not held back.
    expect((await signUp(stack, 'unlisted@example.com', PASSWORD, from('192.0.2.72'))).status).toBe(201);
  });

  it('counts neither a new account nor a refused password against the address', async () => {
    const household = from('192.0.2.80');
    for (let i = 0; i < 4; i++) {
      expect((await signUp(stack, `member${i}@example.com`, PASSWORD, household)).status).toBe(201);
    }
    const short = await signUp(stack, 'member9@example.com', 'too short', household);
    expect(short.status).toBe(422);
    await short.body?.cancel();
    // All three failures of the allowance are left (each at an account of its own, so that only
    // the address's count can lock): the third locks, as at a fresh address.
    for (let i = 0; i < 3; i++) {
      expect((await attemptLogin(stack, `guest${i}@example.com`, 'not it', household)).status).toBe(401);
    }
    expect((await attemptLogin(stack, 'member0@example.com', PASSWORD, household)).status).toBe(429);
  });
});
