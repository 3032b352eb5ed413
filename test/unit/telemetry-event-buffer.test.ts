/**
 * The telemetry write-behind (core/telemetry/event-buffer.ts) over a real in-memory SQLite:
 * rows wait until the interval or the size threshold, never more than the bound (the rest
 * is dropped and counted), and one flush runs at a time.
 */
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import t from 'tap';
import type { Database } from '../../core/storage/metadata-db.js';
import { migrateToLatest } from '../../core/storage/migrations.js';
import { closeEventBuffers, EventBuffer } from '../../core/telemetry/event-buffer.js';
import { EventStore, type EventRow } from '../../core/telemetry/event-store.js';
import { video } from '../contracts/metadata-suite.js';

const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) });
t.teardown(() => db.destroy());
await migrateToLatest(db);
await db.insertInto('videos').values(video('bufferVideo1', { status: 'ready' })).execute();
const store = new EventStore(db);

const rows = (n: number): EventRow[] =>
  Array.from({ length: n }, (_, i) => ({ video_id: 'bufferVideo1', session_id: `buffer-session-${i}`, type: 'view_start', ts: i, received_at: i }));
const stored = async () => Number((await db.selectFrom('playback_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

t.beforeEach(async () => {
  await db.deleteFrom('playback_events').execute();
});

t.test('rows wait for the flush; nothing is written on the request path', async (t) => {
  const buffer = new EventBuffer(store, { maxEvents: 1000, flushEvents: 500, flushIntervalMs: 60_000 });
  t.equal(buffer.offer(rows(100)), 100);
  t.equal(await stored(), 0, 'not written yet');
  t.equal(buffer.pending, 100);
  await buffer.flush();
  t.equal(await stored(), 100, 'written by the flush');
  t.equal(buffer.pending, 0);
});

t.test('a full buffer takes what fits and drops the rest, counted', async (t) => {
  const buffer = new EventBuffer(store, { maxEvents: 250, flushEvents: 10_000, flushIntervalMs: 60_000 });
  t.equal(buffer.offer(rows(200)), 200);
  t.equal(buffer.offer(rows(200)), 50, 'only the room left');
  t.equal(buffer.offer(rows(10)), 0, 'none when full');
  t.same(buffer.dropped, { buffer_full: 160, write_failed: 0 });
  await buffer.close();
  t.equal(await stored(), 250, 'never more than the bound');
  t.equal(buffer.offer(rows(10)), 10, 'room again once written');
  await buffer.flush();
});

t.test('reaching the threshold starts a flush; the interval flushes the rest', async (t) => {
  const buffer = new EventBuffer(store, { maxEvents: 10_000, flushEvents: 300, flushIntervalMs: 30 });
  buffer.offer(rows(300));
  buffer.offer(rows(50));
  await buffer.flush();
  t.equal(await stored(), 350);
  buffer.start();
  buffer.offer(rows(5));
  for (let i = 0; i < 100 && (await stored()) < 355; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(await stored(), 355, 'the timer wrote the last few');
  await buffer.close();
});

t.test('flushes run one at a time and lose nothing', async (t) => {
  let running = 0;
  let most = 0;
  const counting = {
    insert: async (r: readonly EventRow[]) => {
      running++;
      most = Math.max(most, running);
      try {
        await store.insert(r);
      } finally {
        running--;
      }
    },
  };
  const buffer = new EventBuffer(counting, { maxEvents: 100_000, flushEvents: 100, flushIntervalMs: 60_000 });
  for (let i = 0; i < 20; i++) buffer.offer(rows(150));
  await buffer.close();
  t.equal(most, 1);
  t.equal(await stored(), 3000);
});

t.test('rows a write could not store are dropped and counted, not retried forever', async (t) => {
  // A database without the table: every write really fails.
  const empty = new Kysely<Database>({ dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }) });
  t.teardown(() => empty.destroy());
  const buffer = new EventBuffer(new EventStore(empty), { maxEvents: 100, flushIntervalMs: 60_000 });
  buffer.offer(rows(7));
  await buffer.flush();
  t.same(buffer.dropped, { buffer_full: 0, write_failed: 7 });
  t.equal(buffer.pending, 0);
});

t.test('a stopping process writes what every started buffer holds', async (t) => {
  const a = new EventBuffer(store, { maxEvents: 1000, flushIntervalMs: 60_000 });
  const b = new EventBuffer(store, { maxEvents: 1000, flushIntervalMs: 60_000 });
  a.start();
  b.start();
  a.offer(rows(3));
  b.offer(rows(4));
  t.equal(await stored(), 0);
  await closeEventBuffers();
  t.equal(await stored(), 7);
});
