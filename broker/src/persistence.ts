import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { AedesOptions } from 'aedes';

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

export function redisBackends(url: string): { persistence: Persistence; mq: Emitter } {
  const require = createRequire(import.meta.url);
  // aedes 1.x calls its persistence through promises: the async implementation, not the callback one.
  const AsyncRedisPersistence = require('aedes-persistence-redis/asyncPersistence.js') as new (
    options: RedisConnection,
  ) => { createRetainedStreamCombi(patterns: string[]): AsyncIterable<unknown> };
  // aedes pipes the retained messages of a new subscription as a stream, while the Redis
  // implementation returns an async iterable (its in-memory sibling wraps it); wrap it the same way.
  class RedisPersistence extends AsyncRedisPersistence {
    override createRetainedStreamCombi(patterns: string[]): Readable {
      return Readable.from(super.createRetainedStreamCombi(patterns));
    }
  }
  const mqemitterRedis = require('mqemitter-redis') as (options: RedisConnection) => Emitter;
  const connection = redisConnection(url);
  return { persistence: new RedisPersistence(connection), mq: mqemitterRedis(connection) };
}
