import { setTimeout as sleep } from 'node:timers/promises';
import { PreparedAnswer, type DirectAnswer, type DirectJsonRoute } from '../nest/direct-route.js';

/**
 * Direct routes that record what they are given, for the tests of what serves them (node:http's
 * router, DirectConnections): `/hook` answers later, `/fixed` at once, `/slow` when released.
 * A body `{"fail":true}` makes /hook and /fixed throw; `{"unsendable":true}` gives /fixed an answer
 * JSON cannot express.
 */
export function recordingRoutes() {
  const handled: unknown[] = [];
  const refusals: string[] = [];
  const pending: (() => void)[] = [];
  const waiters: (() => void)[] = [];
  const failing = (body: unknown) => {
    handled.push(body);
    if ((body as { fail?: boolean }).fail) throw new Error('secret detail');
  };
  const ok = new PreparedAnswer(200, { result: 'ok' }, { 'cache-control': 'max-age=5' });
  const hook: DirectJsonRoute = {
    path: '/hook',
    async handle(body, headers) {
      failing(body);
      await sleep(2);
      return { status: 200, body: { got: body, hook: headers['x-hook'] }, headers: { 'x-extra': 'yes' } };
    },
    onRefused: (reason) => void refusals.push(reason),
  };
  const fixed: DirectJsonRoute = {
    path: '/fixed',
    handle(body) {
      failing(body);
      // JSON.stringify throws on a BigInt.
      if ((body as { unsendable?: boolean }).unsendable) return { status: 200, body: { n: 1n } };
      return ok;
    },
  };
  const slow: DirectJsonRoute = {
    path: '/slow',
    handle(body) {
      handled.push(body);
      const answered = new Promise<DirectAnswer>((resolve) =>
        pending.push(() => resolve({ status: 200, body: { slow: body } })),
      );
      for (const waiter of waiters.splice(0)) waiter();
      return answered;
    },
  };
  return {
    routes: new Map([hook, fixed, slow].map((route) => [route.path, route])),
    handled,
    refusals,
    /** Lets the oldest waiting /slow request answer. */
    release: () => pending.shift()?.(),
    /**
     * Resolves once a /slow request waits for release. Tests wait on this rather than on a clock:
     * on a loaded machine the request may not even have been read after tens of milliseconds.
     */
    slowWaiting: (): Promise<void> =>
      pending.length > 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve)),
    reset() {
      handled.length = 0;
      refusals.length = 0;
      pending.length = 0;
      waiters.length = 0;
    },
  };
}
