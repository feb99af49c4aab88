import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { HealthChecks } from './health.js';
import { opsResponse } from './http.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { createTestDatabase } from './testing/index.js';

const logger = createLogger({ service: 'test', level: 'silent' });

describe('readiness', () => {
  it('is 200 while the database answers and 503 naming the check once it is gone', async () => {
    const db = await createTestDatabase('health');
    const database = await openDatabase({
      service: 'test',
      url: db.env.DATABASE_URL,
      pgliteDir: join(db.env.DATA_DIR, 'pglite'),
      logger,
    });
    const health = new HealthChecks().add('database', () => database.ping());
    const metrics = createMetrics('test');
    try {
      expect((await opsResponse('/health/ready', health, metrics)).status).toBe(200);
      await database.close();
      const down = await opsResponse('/health', health, metrics);
      expect(down.status).toBe(503);
      const body = JSON.parse(down.body) as { status: string; checks: { database: { status: string } } };
      expect(body.status).toBe('unavailable');
      expect(body.checks.database.status).toBe('down');
      // Liveness does not depend on the database: restarting the process would not bring it back.
      expect((await opsResponse('/health/live', health, metrics)).status).toBe(200);
    } finally {
      await db.drop();
    }
  });
});
