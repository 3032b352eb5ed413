/**
 * Contract of telemetry retention every MetadataDb adapter passes (called from
 * metadataContract): raw events older than the retention are rolled up into daily
 * aggregates and deleted, and the stats and the trending feed answer exactly as before.
 */
import type { Test } from 'tap';
import { TrendingFeed } from '../../core/catalog/feed.js';
import type { MetadataDb } from '../../core/storage/metadata-db.js';
import { EventStore } from '../../core/telemetry/event-store.js';
import { validateBatch } from '../../core/telemetry/events.js';
import { DAY_MS, rollUpExpiredEvents } from '../../core/telemetry/retention.js';
import type { MetadataContractOptions, MetadataFixture } from './metadata-suite.js';
import { video } from './metadata-suite.js';

const NOW = Date.UTC(2026, 11, 1, 12);
const RETENTION_DAYS = 8;

/** Stores one batch as received at `at`. */
async function receive(db: MetadataDb, at: number, events: Record<string, unknown>[]): Promise<void> {
  const result = await new EventStore(db.db, () => at).ingest(validateBatch({ events: events.map((e, i) => ({ ts: at + i, ...e })) }));
  if (result.rejected > 0) throw new Error(`refused: ${JSON.stringify(result.errors)}`);
}

const view = (video_id: string, session_id: string, dwell_ms: number, percent_complete: number) => [
  { type: 'view_start', video_id, session_id },
  { type: 'ttff_ms', video_id, session_id, ttff_ms: 100 + dwell_ms / 100 },
  { type: 'rebuffer', video_id, session_id, duration_ms: 250 },
  { type: 'view_end', video_id, session_id, dwell_ms, percent_complete },
];

export function telemetryContract(t: Test, opts: MetadataContractOptions, openFor: (t: Test, f: MetadataFixture) => Promise<MetadataDb>): void {
  t.test('events past the retention are rolled up per day and deleted; stats and feed answer the same', async (t) => {
    const fixture = await opts.makeFixture(t);
    const db = await openFor(t, fixture);
    await db.db.insertInto('videos').values(['videoOld0001', 'videoNew0001', 'videoNone001'].map((id, i) => video(id, { status: 'ready', visibility: 'public', created_at: NOW - 400 * DAY_MS + i }))).execute();
    // Three old days (two sessions the same day, one spanning nothing), one recent day.
    await receive(db, NOW - 30 * DAY_MS, [...view('videoOld0001', 'sess-a-0001', 60_000, 95), ...view('videoOld0001', 'sess-b-0001', 20_000, 40)]);
    await receive(db, NOW - 30 * DAY_MS + 3_600_000, [{ type: 'playback_error', video_id: 'videoOld0001', session_id: 'sess-b-0001', code: 'x' }]);
    await receive(db, NOW - 12 * DAY_MS, [...view('videoOld0001', 'sess-c-0001', 30_000, 100), ...view('videoNew0001', 'sess-d-0001', 5_000, 10)]);
    await receive(db, NOW - 9 * DAY_MS, view('videoNew0001', 'sess-e-0001', 7_000, 92));
    await receive(db, NOW - 2 * DAY_MS, [...view('videoNew0001', 'sess-f-0001', 600_000, 100), ...view('videoOld0001', 'sess-g-0001', 1_000, 5)]);

    const store = new EventStore(db.db);
    const feed = () => new TrendingFeed(db.db, { bucketMs: 0, now: () => NOW }).page({ limit: 10 });
    const stats = async (id: string) => {
      const s = await store.stats(id);
      // TTFF percentiles cover the raw events kept; every other figure survives the roll-up.
      return { ...s, ttff_p50_ms: undefined, ttff_p95_ms: undefined };
    };
    const before = { videoOld0001: await stats('videoOld0001'), videoNew0001: await stats('videoNew0001'), videoNone001: await stats('videoNone001'), feed: (await feed()).items.map((v) => v.id) };
    t.match(before.videoOld0001, { views: 4, unique_sessions: 4, watch_time_ms: 111_000, rebuffer_count: 4, playback_errors: 1 });
    t.same(before.feed.slice(0, 2), ['videoNew0001', 'videoOld0001'], 'the recent views rank');

    const result = await rollUpExpiredEvents(db, RETENTION_DAYS, NOW);
    t.same(result, { days: 3, events: 21 }, 'three old days, 21 raw events');
    const left = await db.db.selectFrom('playback_events').select((eb) => [eb.fn.min('received_at').as('oldest'), eb.fn.countAll().as('n')]).executeTakeFirstOrThrow();
    t.equal(Number(left.n), 8, 'the recent day is kept raw');
    t.ok(Number(left.oldest) >= NOW - RETENTION_DAYS * DAY_MS, 'nothing older than the retention is left');
    const daily = await db.db.selectFrom('playback_daily').selectAll().orderBy('day').orderBy('video_id').execute();
    t.same(
      daily.map((d) => [d.video_id, Number(d.day), Number(d.views), Number(d.watch_time_ms)]),
      [
        ['videoOld0001', Math.floor((NOW - 30 * DAY_MS) / DAY_MS) * DAY_MS, 2, 80_000],
        ['videoNew0001', Math.floor((NOW - 12 * DAY_MS) / DAY_MS) * DAY_MS, 1, 5_000],
        ['videoOld0001', Math.floor((NOW - 12 * DAY_MS) / DAY_MS) * DAY_MS, 1, 30_000],
        ['videoNew0001', Math.floor((NOW - 9 * DAY_MS) / DAY_MS) * DAY_MS, 1, 7_000],
      ],
      'one row per video and UTC day',
    );

    t.same({ videoOld0001: await stats('videoOld0001'), videoNew0001: await stats('videoNew0001'), videoNone001: await stats('videoNone001'), feed: (await feed()).items.map((v) => v.id) }, before, 'the same answers after the roll-up');
    t.same(await rollUpExpiredEvents(db, RETENTION_DAYS, NOW), { days: 0, events: 0 }, 'a second run has nothing to do');
    t.same(await stats('videoOld0001'), before.videoOld0001, 'and changes nothing');
  });

  t.test('one roll-up at a time: a process finding the lease held does nothing', async (t) => {
    const fixture = await opts.makeFixture(t);
    const db = await openFor(t, fixture);
    await db.db.insertInto('videos').values(video('videoHeld001', { status: 'ready', visibility: 'public' })).execute();
    await receive(db, NOW - 30 * DAY_MS, view('videoHeld001', 'sess-h-0001', 1000, 50));
    t.ok(await db.acquireLease('telemetry:rollup', 'another-node', 60_000, Date.now()));
    t.same(await rollUpExpiredEvents(db, RETENTION_DAYS, NOW), { days: 0, events: 0 });
    await db.releaseLease('telemetry:rollup', 'another-node');
    t.same(await rollUpExpiredEvents(db, RETENTION_DAYS, NOW), { days: 1, events: 4 });
  });
}
