/**
 * Throwaway PostgreSQL databases for tests, on the local server (default
 * postgres://postgres@127.0.0.1:5432/test, trust auth; `FRAMECAST_TEST_PG_URL` overrides the
 * admin connection). Each call creates a database with a random name; `drop()` removes it,
 * forcing out connections a killed node may have left behind.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const ADMIN_URL = process.env.FRAMECAST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  /** postgres:// URL of the new, empty database. */
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function withAdmin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Why Postgres cannot be used here, or undefined when it answers. */
export async function postgresUnavailable(): Promise<string | undefined> {
  try {
    await withAdmin((c) => c.query('select 1'));
    return undefined;
  } catch (err) {
    return `no PostgreSQL at ${ADMIN_URL}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `framecast_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`create database ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => withAdmin((c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}
