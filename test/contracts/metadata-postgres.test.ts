import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import t, { type Test } from 'tap';
import { migrations } from '../../core/storage/migrations.js';
import createPostgresMetadataDb from '../../storage-adapters/metadata/postgres.js';
import { createTestDatabase, postgresUnavailable } from '../helpers/postgres.js';
import { metadataContract, spawnClaimer, type MetadataFixture } from './metadata-suite.js';

const ext = path.extname(fileURLToPath(import.meta.url));
const adapterModule = new URL(`../../storage-adapters/metadata/postgres${ext}`, import.meta.url).href;

const unavailable = await postgresUnavailable();
if (unavailable) {
  t.test('postgres metadata contract', { skip: unavailable }, () => {});
} else {
  /** A fresh database per test, dropped when the test ends. */
  const postgresFixture = async (t: Test): Promise<MetadataFixture> => {
    const database = await createTestDatabase();
    t.teardown(() => database.drop());
    return { url: database.url, dataDir: '/nonexistent', open: () => createPostgresMetadataDb(database.url) };
  };

  metadataContract(t, { makeFixture: postgresFixture, adapterModule });

  t.test('nodes opening a fresh database at once migrate it once, under the advisory lock', async (t) => {
    const fixture = await postgresFixture(t);
    const children = ['n1', 'n2', 'n3'].map((owner) => spawnClaimer(t, adapterModule, fixture, owner));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    t.same(await Promise.all(children.map((c) => c.claimed)), [[], [], []], 'all opened, nothing to claim');
    const db = await fixture.open();
    t.teardown(() => db.close());
    const ran = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db.db);
    t.same(ran.rows.map((r) => r.name), Object.keys(migrations), 'each migration ran once');
    t.equal(db.dialect, 'postgres');
  });

  t.test('sums and counts come back as numbers', async (t) => {
    const db = await (await postgresFixture(t)).open();
    t.teardown(() => db.close());
    const row = await sql<{ n: unknown; s: unknown }>`select count(*) as n, sum(x) as s from (values (6000000000::bigint), (1::bigint)) v(x)`.execute(db.db);
    t.same(row.rows[0], { n: 2, s: 6_000_000_001 });
  });

  t.test('a server that is not there fails the open with the server named, not a hang', async (t) => {
    const err = await createPostgresMetadataDb('postgres://nobody:secret@127.0.0.1:1/none').then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof Error);
    t.match((err as Error).message, /metadata database postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/none/);
    t.notMatch((err as Error).message, /secret/, 'the password is not in the message');
  });
}
