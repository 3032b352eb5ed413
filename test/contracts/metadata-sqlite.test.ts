import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kysely, sql, SqliteDialect } from 'kysely';
import BetterSqlite3 from 'better-sqlite3';
import t, { type Test } from 'tap';
import type { Database } from '../../core/storage/metadata-db.js';
import { MigrationError, migrations } from '../../core/storage/migrations.js';
import createSqliteMetadataDb, { migrateExclusively } from '../../storage-adapters/metadata/sqlite.js';
import { metadataContract, spawnClaimer, type MetadataFixture } from './metadata-suite.js';

// Same extension as this file, so the child processes load the adapter the same way.
const ext = path.extname(fileURLToPath(import.meta.url));
const adapterModule = new URL(`../../storage-adapters/metadata/sqlite${ext}`, import.meta.url).href;

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'framecast-sqlite-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function sqliteFixture(t: Test): Promise<MetadataFixture> {
  const dataDir = await tempDir(t);
  const url = 'sqlite:meta/framecast.db';
  return { url, dataDir, open: () => createSqliteMetadataDb(url, { dataDir }) };
}

metadataContract(t, { makeFixture: sqliteFixture, adapterModule });

t.test('the file lives under the data dir, in WAL mode with foreign keys and a busy timeout', async (t) => {
  const fixture = await sqliteFixture(t);
  const db = await fixture.open();
  t.teardown(() => db.close());
  t.ok((await stat(path.join(fixture.dataDir, 'meta/framecast.db'))).isFile(), 'a relative path is under the data dir');
  const pragma = async (name: string) => Object.values((await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(db.db)).rows[0] ?? {})[0];
  t.equal(await pragma('journal_mode'), 'wal');
  t.equal(await pragma('foreign_keys'), 1);
  t.equal(await pragma('busy_timeout'), 5000);
  t.equal(await pragma('synchronous'), 1, 'NORMAL');
});

t.test('an absolute path and :memory: work too', async (t) => {
  const dir = await tempDir(t);
  const absolute = await createSqliteMetadataDb(`sqlite:${path.join(dir, 'abs.db')}`, { dataDir: '/nonexistent' });
  t.equal(await absolute.ping(), true);
  await absolute.close();
  t.ok((await stat(path.join(dir, 'abs.db'))).isFile());
  const memory = await createSqliteMetadataDb('sqlite::memory:', { dataDir: dir });
  t.equal(await memory.ping(), true);
  t.equal(memory.dialect, 'sqlite');
  await memory.close();
  await t.rejects(createSqliteMetadataDb('postgres://x', { dataDir: dir }), /sqlite: URL/);
});

t.test('processes opening a fresh file at once all migrate it without SQLITE_BUSY', async (t) => {
  const fixture = await sqliteFixture(t);
  const children = ['m1', 'm2', 'm3'].map((owner) => spawnClaimer(t, adapterModule, fixture, owner));
  await Promise.all(children.map((c) => c.ready));
  for (const c of children) c.go();
  t.same(await Promise.all(children.map((c) => c.claimed)), [[], [], []], 'all opened, nothing to claim');
  const db = await fixture.open();
  t.teardown(() => db.close());
  const ran = await sql<{ name: string }>`select name from kysely_migration`.execute(db.db);
  t.same(ran.rows.map((r) => r.name), Object.keys(migrations), 'each migration ran once');
});

t.test('a failing migration is named in the error and leaves nothing half done', async (t) => {
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) });
  t.teardown(() => db.destroy());
  const err = await migrateExclusively(db, {
    migrations: {
      '0001_ok': { up: async (d) => void (await d.schema.createTable('fine').addColumn('x', 'integer').execute()) },
      '0002_broken': {
        up: async (d) => {
          await d.schema.createTable('half').addColumn('x', 'integer').execute();
          await sql`this is not sql`.execute(d);
        },
      },
    },
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof MigrationError, 'a MigrationError');
  t.equal((err as MigrationError).migration, '0002_broken');
  t.match((err as Error).message, /migration "0002_broken" failed/);
  const tables = (await db.introspection.getTables()).map((tb) => tb.name);
  t.notOk(tables.includes('half'), 'the failed migration was rolled back');
  t.notOk(tables.includes('fine'), 'a run is all or nothing');
});
