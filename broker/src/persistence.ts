import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { AedesOptions } from 'aedes';
import { Redis } from 'ioredis';
import type { Logger } from '@spincycle/common';

/**
 * With REDIS_URL, QoS 1 messages, retained messages and persistent sessions are kept in Redis and
 * survive a broker restart, and several brokers can share them; without it they live in memory.
 */
export interface RedisConnection {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
}

export function redisConnection(url: string): RedisConnection {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new Error('REDIS_URL is invalid: the path must be a database number');
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db,
  };
}

type Persistence = NonNullable<AedesOptions['persistence']>;
type Emitter = NonNullable<AedesOptions['mq']>;

export interface RedisBackends {
  persistence: Persistence;
  mq: Emitter;
  /** The parts whose Redis connection is not ready now: while any is, QoS 1 flows wait. */
  down(): string[];
}

export function redisBackends(url: string, logger: Logger): RedisBackends {
  const require = createRequire(import.meta.url);
  // aedes 1.x calls its persistence through promises: the async implementation, not the callback one.
  const AsyncRedisPersistence = require('aedes-persistence-redis/asyncPersistence.js') as new (
    options: RedisConnection & { conn: Redis },
  ) => { createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown> };
  // aedes pipes the retained messages of a new subscription as a stream, while the Redis
  // implementation returns an async iterable (its in-memory sibling wraps it); wrap it the same way.
  class RedisPersistence extends AsyncRedisPersistence {
    override createRetainedStreamCombi(patterns: string[]): Readable {
      return Readable.from(super.createRetainedStreamCombi(patterns));
    }
  }
  const mqemitterRedis = require('mqemitter-redis') as (
    options: RedisConnection & { subConn: Redis; pubConn: Redis },
  ) => Emitter & { state?: unknown };
  const connection = redisConnection(url);
  // The connections are made here so that their errors reach the log with the part they serve.
  // ioredis reconnects by itself and sends what was queued meanwhile; a reset or a restart of
  // Redis must not end the broker and every session on it.
  const connections = new Map<string, Redis>();
  const connect = (part: string, options: { enableAutoPipelining?: boolean } = {}) => {
    const redis = new Redis({ ...connection, ...options }).on('error', (err: Error) =>
      logger.warn({ redis: part, reason: err.message }, 'Redis connection failed; reconnecting'),
    );
    connections.set(part, redis);
    return redis;
  };
  // As mqemitter-redis sets for the connections it makes itself.
  const bus = [
    connect('message bus (subscriber)', { enableAutoPipelining: true }),
    connect('message bus (publisher)', { enableAutoPipelining: true }),
  ] as const;
  const mq = mqemitterRedis({ ...connection, subConn: bus[0], pubConn: bus[1] });
  // mqemitter-redis passes each connection's error on to this emitter, where an 'error' without
  // a listener throws (it took the broker down with it). The connection has logged it already.
  if (mq.state instanceof EventEmitter) mq.state.on('error', () => {});
  // mqemitter-redis closes by QUIT and waits for each connection's 'end'. A connection waiting to
  // reconnect stops there, but ioredis never says 'end' for it, so a broker stopped while Redis
  // is away would wait out the shutdown timeout: such a connection is ended here.
  const closeBus = mq.close.bind(mq);
  mq.close = (done?: () => void) => {
    closeBus(done);
    for (const redis of bus) {
      if (redis.status !== 'reconnecting') continue;
      redis.disconnect();
      redis.emit('end');
    }
    return mq;
  };
  return {
    persistence: new RedisPersistence({ ...connection, conn: connect('persistence') }),
    mq,
    down: () => [...connections].filter(([, redis]) => redis.status !== 'ready').map(([part]) => part),
  };
}
