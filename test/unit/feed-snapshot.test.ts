/**
 * The trending feed's snapshot buckets (core/catalog/feed.ts) on a real SQLite database:
 * first pages within one bucket share a snapshot, so views arriving meanwhile reorder the
 * feed from the next bucket on (not on every request), and bucket 0 re-ranks every time.
 */
import t, { type Test } from 'tap';
import { TrendingFeed } from '../../core/catalog/feed.js';
import type { MetadataDb } from '../../core/storage/metadata-db.js';
import createSqliteMetadataDb from '../../storage-adapters/metadata/sqlite.js';
import { video } from '../contracts/metadata-suite.js';

const T0 = 1_800_000_000_000;

async function catalog(t: Test): Promise<MetadataDb> {
  const db = await createSqliteMetadataDb('sqlite::memory:', { dataDir: '/nonexistent' });
  t.teardown(() => db.close());
  await db.db
    .insertInto('videos')
    .values(['older', 'newer'].map((id, i) => video(id, { status: 'ready', visibility: 'public', created_at: T0 - 10_000 + i, updated_at: T0 })))
    .execute();
  return db;
}

async function view(db: MetadataDb, videoId: string, at: number): Promise<void> {
  await db.db.insertInto('playback_events').values({ video_id: videoId, session_id: `s-${at}`, type: 'view_start', ts: at, received_at: at, dwell_ms: null, percent_complete: null }).execute();
}

const firstIds = async (feed: TrendingFeed) => (await feed.page({ limit: 10 })).items.map((v) => v.id);

t.test('views count from the next bucket on', async (t) => {
  const db = await catalog(t);
  let now = T0 + 1_000;
  const feed = new TrendingFeed(db.db, { bucketMs: 10_000, now: () => now });
  t.same(await firstIds(feed), ['newer', 'older'], 'no views: newest first');
  await view(db, 'older', now);
  now += 2_000;
  t.same(await firstIds(feed), ['newer', 'older'], 'the same bucket keeps its snapshot');
  now = T0 + 10_001;
  t.same(await firstIds(feed), ['older', 'newer'], 'the next bucket ranks the new view');
});

t.test('bucket 0 re-ranks on every first page', async (t) => {
  const db = await catalog(t);
  const now = T0 + 1_000;
  const feed = new TrendingFeed(db.db, { bucketMs: 0, now: () => now });
  t.same(await firstIds(feed), ['newer', 'older']);
  await view(db, 'older', now - 1);
  t.same(await firstIds(feed), ['older', 'newer'], 'the view counts at once');
});
