import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { openDatabase } from './database.js';
import { createLogger } from './logger.js';
import { createTestDatabase, type TestDatabase } from './testing/index.js';

const logger = createLogger({ service: 'test', level: 'silent' });

class CreateWidgets1700000000000 implements MigrationInterface {
  name = 'CreateWidgets1700000000000';
  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE TABLE widgets (id serial PRIMARY KEY, name text NOT NULL UNIQUE)');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE widgets');
  }
}

class FailingMigration1700000000001 implements MigrationInterface {
  name = 'FailingMigration1700000000001';
  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE TABLE half_done (id int)');
    await q.query('SELECT * FROM no_such_table');
  }
  async down(): Promise<void> {}
}

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

function open(migrations: (new () => MigrationInterface)[]) {
  if (!db) throw new Error('no test database');
  return openDatabase({
    service: 'test',
    url: db.env.DATABASE_URL,
    pgliteDir: join(db.env.DATA_DIR, 'pglite'),
    migrations,
    logger,
  });
}

describe(`openDatabase (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  it('applies migrations once and keeps data across a reopen', async () => {
    db = await createTestDatabase('database');
    const first = await open([CreateWidgets1700000000000]);
    expect(first.kind).toBe(process.env.DATABASE_URL ? 'postgres' : 'pglite');
    await first.dataSource.query(`INSERT INTO widgets (name) VALUES ('drum')`);
    await first.ping();
    await first.close();

    const second = await open([CreateWidgets1700000000000]);
    const rows = await second.dataSource.query('SELECT name FROM widgets');
    expect(rows).toEqual([{ name: 'drum' }]);
    const applied = await second.dataSource.query('SELECT name FROM migrations');
    expect(applied).toHaveLength(1);
    await second.close();
  });

  it('rolls back a failing migration whole and refuses to open', async () => {
    db = await createTestDatabase('database');
    await expect(open([CreateWidgets1700000000000, FailingMigration1700000000001])).rejects.toThrow(
      /no_such_table/,
    );
    const again = await open([CreateWidgets1700000000000]);
    const tables = await again.dataSource.query(
      `SELECT table_name FROM information_schema.tables WHERE table_name = 'half_done'`,
    );
    expect(tables).toEqual([]);
    await again.close();
  });

  it('runs queries concurrently without interleaving transactions', async () => {
    db = await createTestDatabase('database');
    const database = await open([CreateWidgets1700000000000]);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        database.dataSource.transaction(async (m) => {
          await m.query('INSERT INTO widgets (name) VALUES ($1)', [`w${i}`]);
        }),
      ),
    );
    const [{ count }] = await database.dataSource.query('SELECT count(*)::int AS count FROM widgets');
    expect(count).toBe(20);
    await database.close();
  });
});
