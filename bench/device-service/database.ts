import pg from 'pg';

/** The PostgreSQL server the benchmarks create their fresh databases on. */
export const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The URL of one database on that server. */
export const databaseUrl = (name: string): string =>
  Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();

/** Runs one statement on the server's default database (CREATE / DROP DATABASE). */
export async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
