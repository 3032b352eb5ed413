/**
 * Telemetry over a real (in-memory) SQLite: a batch costs one id lookup and one INSERT
 * however many events it carries, and the stored rows give the stats back.
 */
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import t from 'tap';
import { VideoCatalog } from '../../core/catalog/videos.js';
import type { Database } from '../../core/storage/metadata-db.js';
import { migrateToLatest } from '../../core/storage/migrations.js';
import { EventStore } from '../../core/telemetry/event-store.js';
import { validateBatch } from '../../core/telemetry/events.js';

const statements: string[] = [];
const db = new Kysely<Database>({
  dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }),
  log: (e) => {
    if (e.level === 'query') statements.push(e.query.sql);
  },
});
t.teardown(() => db.destroy());
await migrateToLatest(db);
const catalog = new VideoCatalog(db);
const store = new EventStore(db, () => 42);

/** A public video ready to play: the only kind that takes telemetry. */
async function readyVideo(title: string) {
  const v = await catalog.create({ title, visibility: 'public' });
  await db.updateTable('videos').set({ status: 'ready' }).where('id', '=', v.id).execute();
  return v;
}

t.test('a batch of 500 events over 2 videos is one lookup and one INSERT', async (t) => {
  const a = await readyVideo('a');
  const b = await readyVideo('b');
  const events = Array.from({ length: 500 }, (_, i) => ({
    type: i % 2 === 0 ? 'rebuffer' : 'view_start',
    video_id: i % 3 === 0 ? a.id : i % 3 === 1 ? b.id : 'AAAAAAAAAAAA',
    session_id: `session-${i % 7}`,
    ts: 1000 + i,
    duration_ms: 10,
  }));
  statements.length = 0;
  const result = await store.ingest(validateBatch({ events }));
  t.same(statements.map((s) => s.split(' ').slice(0, 3).join(' ')), ['select "id" from', 'insert into "playback_events"'], 'two statements');
  const unknown = events.filter((e) => e.video_id === 'AAAAAAAAAAAA').length;
  t.equal(result.accepted, 500 - unknown);
  t.equal(result.rejected, unknown);
  t.same(result.errors.slice(0, 2).map((e) => e.index), [2, 5], 'refused events in batch order');
  const rows = await db.selectFrom('playback_events').selectAll().where('video_id', '=', a.id).orderBy('ts').limit(2).execute();
  t.match(rows[0], { type: 'rebuffer', duration_ms: 10, received_at: 42, dwell_ms: null, ts: 1000 });
});

t.test('each type keeps its figures in their columns and the rest as JSON', async (t) => {
  const v = await readyVideo('figures');
  const common = { video_id: v.id, session_id: 'figures-session', ts: 5 };
  await store.ingest(
    validateBatch({
      events: [
        { type: 'view_end', ...common, dwell_ms: 1234.6, percent_complete: 91.5 },
        { type: 'ttff_ms', ...common, ttff_ms: 333 },
        { type: 'bitrate_change', ...common, kbps: 1100, height: 480 },
        { type: 'seek', ...common, from_s: 1, to_s: 2.5 },
        { type: 'playback_error', ...common, code: 'MEDIA_ERR_3' },
        { type: 'view_start', ...common },
      ],
    }),
  );
  const rows = await db
    .selectFrom('playback_events')
    .select(['type', 'dwell_ms', 'percent_complete', 'ttff_ms', 'duration_ms', 'kbps', 'detail'])
    .where('video_id', '=', v.id)
    .orderBy('id')
    .execute();
  const none = { dwell_ms: null, percent_complete: null, ttff_ms: null, duration_ms: null, kbps: null, detail: null };
  t.same(rows, [
    { ...none, type: 'view_end', dwell_ms: 1235, percent_complete: 91.5 },
    { ...none, type: 'ttff_ms', ttff_ms: 333 },
    { ...none, type: 'bitrate_change', kbps: 1100, detail: '{"height":480}' },
    { ...none, type: 'seek', detail: '{"from_s":1,"to_s":2.5}' },
    { ...none, type: 'playback_error', detail: '{"code":"MEDIA_ERR_3"}' },
    { ...none, type: 'view_start' },
  ]);
  const stats = await store.stats(v.id);
  t.match(stats, { views: 1, unique_sessions: 1, watch_time_ms: 1235, completion_rate: 1, ttff_p50_ms: 333, ttff_p95_ms: 333, playback_errors: 1 });
});

t.test('events for private, unlisted or unfinished videos are refused, like unknown ones', async (t) => {
  const ready = await readyVideo('public and ready');
  const priv = await catalog.create({ title: 'private', visibility: 'private' });
  await db.updateTable('videos').set({ status: 'ready' }).where('id', '=', priv.id).execute();
  const unlisted = await catalog.create({ title: 'unlisted', visibility: 'unlisted' });
  await db.updateTable('videos').set({ status: 'ready' }).where('id', '=', unlisted.id).execute();
  const processing = await catalog.create({ title: 'processing', visibility: 'public' });
  await db.updateTable('videos').set({ status: 'processing' }).where('id', '=', processing.id).execute();
  const ids = [ready.id, priv.id, unlisted.id, processing.id, 'AAAAAAAAAAAA'];
  const result = await store.ingest(validateBatch({ events: ids.map((id, i) => ({ type: 'view_start', video_id: id, session_id: `session-refused-${i}`, ts: i })) }));
  t.equal(result.accepted, 1);
  t.same(result.errors.map((e) => e.index), [1, 2, 3, 4]);
  t.equal(new Set(result.errors.map((e) => e.message.replace(/[A-Za-z0-9_-]{12}$/, ''))).size, 1, 'one message for all: a private video is not told apart from a missing one');
  const stored = await db.selectFrom('playback_events').select('video_id').where('video_id', 'in', ids).execute();
  t.same(stored.map((r) => r.video_id), [ready.id], 'only the public ready video\'s event is stored');
});

t.test('a batch with nothing to keep writes nothing', async (t) => {
  statements.length = 0;
  const result = await store.ingest(validateBatch({ events: [{ type: 'play' }] }));
  t.same(result, { accepted: 0, rejected: 1, errors: [{ index: 0, message: result.errors[0]!.message }] });
  t.same(statements, [], 'no query at all');
});

t.test('TTFF percentiles read at most the newest sample', async (t) => {
  const v = await readyVideo('sample');
  const events = [100, 200, 300, 400, 500].map((ms, i) => ({ type: 'ttff_ms', video_id: v.id, session_id: `sample-${i}`, ts: i, ttff_ms: ms }));
  await new EventStore(db, () => 1).ingest(validateBatch({ events: events.slice(0, 2) }));
  await new EventStore(db, () => 2).ingest(validateBatch({ events: events.slice(2) }));
  t.same((await store.ttffSample(v.id, 3)).sort(), [300, 400, 500], 'the last arrivals');
});
