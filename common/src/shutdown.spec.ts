import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { Shutdown } from './shutdown.js';

const logger = createLogger({ service: 'test', level: 'silent' });

function harness(timeoutMs = 1000) {
  const exits: number[] = [];
  const shutdown = new Shutdown({ logger, timeoutMs, exit: (code) => exits.push(code) });
  return { exits, shutdown };
}

describe('Shutdown', () => {
  it('runs the steps in order and exits 0', async () => {
    const { exits, shutdown } = harness();
    const order: string[] = [];
    shutdown
      .add('http', async () => void order.push('http'))
      .add('database', async () => void order.push('db'));
    await shutdown.run('SIGTERM');
    expect(order).toEqual(['http', 'db']);
    expect(exits).toEqual([0]);
  });

  it('ignores a second signal while draining', async () => {
    const { exits, shutdown } = harness();
    let runs = 0;
    shutdown.add('http', async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 20));
    });
    await Promise.all([shutdown.run('SIGINT'), shutdown.run('SIGINT')]);
    expect(runs).toBe(1);
    expect(exits).toEqual([0]);
  });

  it('still closes the database when draining HTTP fails, and exits 1', async () => {
    const { exits, shutdown } = harness();
    let closed = false;
    shutdown
      .add('http', async () => {
        throw new Error('boom');
      })
      .add('database', async () => {
        closed = true;
      });
    await shutdown.run('SIGTERM');
    expect(closed).toBe(true);
    expect(exits).toEqual([1]);
  });

  it('exits 1 when a step outlives the timeout', async () => {
    const { exits, shutdown } = harness(50);
    shutdown.add('stuck', () => new Promise<void>((r) => setTimeout(r, 300)));
    await shutdown.run('SIGTERM');
    expect(exits[0]).toBe(1);
  });
});
