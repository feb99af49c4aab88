// Event query benchmark: the newest 100 events of one device among many millions of rows, through
// device-service's EventsRepository (the query the events API runs), next to the same SQL sent
// with a bare `pg` client in the same run (the floor: what PostgreSQL itself takes).
//   npx tsc -b device-service && node bench/device-service/event-query.ts [--rows 10000000]
//        [--devices 10000] [--queries 2000]
// DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the server on which a
// fresh database is created, filled and dropped.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createLogger, openDatabase } from '@spincycle/common';
import { migrations } from '../../device-service/dist/database/migrations.js';
import { EventsRepository } from '../../device-service/dist/events/events.repository.js';
import { admin, databaseUrl } from './database.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    devices: { type: 'string', default: '10000' },
    queries: { type: 'string', default: '2000' },
  },
});
const ROWS = Number(values.rows);
const DEVICES = Number(values.devices);
const QUERIES = Number(values.queries);
const CHUNK = 1_000_000;

const name = `bench_events_${randomBytes(4).toString('hex')}`;
const url = databaseUrl(name);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function timeQueries(run: (deviceId: string) => Promise<number>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < QUERIES; i += 1) {
    const deviceId = `dev-${Math.floor(Math.random() * DEVICES)}`;
    const started = process.hrtime.bigint();
    const rows = await run(deviceId);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (rows !== 100) throw new Error(`expected 100 events of ${deviceId}, got ${rows}`);
  }
  return times.sort((a, b) => a - b);
}

await admin(`CREATE DATABASE "${name}"`);
const logger = createLogger({ service: 'bench', level: 'warn' });
const database = await openDatabase({
  service: 'bench',
  url: url,
  migrations,
  logger,
  poolSize: 2,
});
const bare = new pg.Client({ connectionString: url });
await bare.connect();
try {
  const fillStarted = Date.now();
  for (let from = 0; from < ROWS; from += CHUNK) {
    const to = Math.min(ROWS, from + CHUNK) - 1;
    await bare.query(
      `INSERT INTO events (device_id, event_id, type, payload, device_time, received_at)
       SELECT 'dev-' || (n % $3), n::text, 'cycle.progress', jsonb_build_object('step', n % 40, 'rpm', 1200),
              timestamptz '2026-01-01' + n * interval '10 ms', timestamptz '2026-01-01' + n * interval '10 ms'
       FROM generate_series($1::bigint, $2::bigint) AS n`,
      [from, to, DEVICES],
    );
    process.stderr.write(`\rfilled ${to + 1}/${ROWS}`);
  }
  await bare.query('VACUUM ANALYZE events');
  process.stderr.write(`\rfilled ${ROWS} rows in ${((Date.now() - fillStarted) / 1000).toFixed(0)} s\n`);

  const events = new EventsRepository(database.dataSource);
  const repository = await timeQueries(async (deviceId) => {
    const page = await events.page({ deviceId, before: null, from: null, to: null, limit: 100 });
    return page.events.length;
  });
  const floor = await timeQueries(async (deviceId) => {
    const result = await bare.query(
      `SELECT id, event_id, type, payload, device_time, received_at FROM events
       WHERE device_id = $1 ORDER BY received_at DESC, id DESC LIMIT 100`,
      [deviceId],
    );
    return result.rowCount ?? 0;
  });

  const row = (label: string, t: number[]) =>
    `${label.padEnd(34)} ${percentile(t, 50).toFixed(2).padStart(8)} ${percentile(t, 95).toFixed(2).padStart(8)} ${percentile(t, 99).toFixed(2).padStart(8)}`;
  console.log(
    `newest 100 events of one device among ${ROWS} rows (${DEVICES} devices), ${QUERIES} queries each`,
  );
  console.log(`${'path'.padEnd(34)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`);
  console.log(row('EventsRepository.page (TypeORM)', repository));
  console.log(row('same SQL, bare pg client', floor));
  console.log(
    `p95 ratio repository / bare: ${(percentile(repository, 95) / percentile(floor, 95)).toFixed(2)}`,
  );
} finally {
  await bare.end();
  await database.close();
  await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}
