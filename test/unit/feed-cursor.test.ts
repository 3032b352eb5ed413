/**
 * Feed cursors cannot be forged and re-ranking cannot be multiplied (core/catalog/feed.ts),
 * on a real SQLite database: a cursor this server issued pages on (also through another
 * instance with the same secret); a changed, unsigned or foreign one is 400 E_BAD_REQUEST;
 * concurrent first pages on a cold snapshot run the ranking once, and snapshots of older
 * cursors rank one at a time.
 */
import t, { type Test } from 'tap';
import { TrendingFeed } from '../../core/catalog/feed.js';
import { AppError } from '../../core/errors.js';
import type { MetadataDb } from '../../core/storage/metadata-db.js';
import createSqliteMetadataDb from '../../storage-adapters/metadata/sqlite.js';
import { video } from '../contracts/metadata-suite.js';

const T0 = 1_800_000_000_000;
const SECRET = 'server-secret-for-tests';

async function catalog(t: Test): Promise<MetadataDb> {
  const db = await createSqliteMetadataDb('sqlite::memory:', { dataDir: '/nonexistent' });
  t.teardown(() => db.close());
  const ids = Array.from({ length: 6 }, (_, i) => `vid${i}`);
  await db.db.insertInto('videos').values(ids.map((id, i) => video(id, { status: 'ready', visibility: 'public', created_at: T0 - 10_000 + i, updated_at: T0 }))).execute();
  // Two engaged videos, so cursors of both phases (engaged and newest) occur.
  await db.db
    .insertInto('playback_events')
    .values(['vid1', 'vid1', 'vid2'].map((id, i) => ({ video_id: id, session_id: `sess-${i}`, type: 'view_start', ts: T0, received_at: T0 - 1000, dwell_ms: null, percent_complete: null })))
    .execute();
  return db;
}

async function badRequest(t: Test, p: Promise<unknown>, label: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof AppError && err.code === 'E_BAD_REQUEST' && err.status === 400, `${label}: 400 E_BAD_REQUEST`);
}

t.test('a signed cursor pages on; a changed, unsigned or foreign one is 400 E_BAD_REQUEST', async (t) => {
  const db = await catalog(t);
  const now = () => T0;
  const feed = new TrendingFeed(db.db, { bucketMs: 10_000, secret: SECRET, now });
  const first = await feed.page({ limit: 2 });
  t.same(first.items.map((v) => v.id), ['vid1', 'vid2'], 'engaged videos first');
  const cursor = first.next_cursor!;
  const second = await feed.page({ limit: 2, cursor });
  t.same(second.items.map((v) => v.id), ['vid5', 'vid4'], 'then the newest');
  const third = await feed.page({ limit: 2, cursor: second.next_cursor! });
  t.same(third.items.map((v) => v.id), ['vid3', 'vid0']);

  const sibling = new TrendingFeed(db.db, { bucketMs: 10_000, secret: SECRET, now });
  t.same((await sibling.page({ limit: 2, cursor })).items.map((v) => v.id), ['vid5', 'vid4'], 'another process with the same secret accepts it');

  const [body, mac] = cursor.split('.') as [string, string];
  const payload = Buffer.from(body, 'base64url').toString();
  // The forgery of issue 13: the same position with an invented snapshot (misses the cache).
  const forged = Buffer.from(payload.replace(/^f:(\d+):/, (_m, asOf: string) => `f:${Number(asOf) - 1}:`)).toString('base64url');
  await badRequest(t, feed.page({ limit: 2, cursor: `${forged}.${mac}` }), 'a changed snapshot');
  await badRequest(t, feed.page({ limit: 2, cursor: forged }), 'an unsigned cursor');
  await badRequest(t, feed.page({ limit: 2, cursor: `${body}.${mac.slice(0, -2)}AA` }), 'a changed signature');
  await badRequest(t, feed.page({ limit: 2, cursor: `${body}.${mac}.x` }), 'extra parts');
  await badRequest(t, feed.page({ limit: 2, cursor: 'garbage' }), 'garbage');
  const foreign = new TrendingFeed(db.db, { bucketMs: 10_000, secret: 'another-server', now });
  await badRequest(t, foreign.page({ limit: 2, cursor }), 'a cursor signed with another secret');
});

t.test('concurrent first pages on a cold snapshot run one ranking', async (t) => {
  const db = await catalog(t);
  const feed = new TrendingFeed(db.db, { bucketMs: 10_000, secret: SECRET, now: () => T0 });
  const pages = await Promise.all(Array.from({ length: 20 }, () => feed.page({ limit: 3 })));
  t.equal(feed.rankingsRun, 1, 'twenty requests, one ranking');
  t.ok(pages.every((p) => p.items.map((v) => v.id).join() === 'vid1,vid2,vid5'), 'all got the same page');
});

t.test('rankings of different snapshots run one at a time', async (t) => {
  const db = await catalog(t);
  let now = T0;
  const feed = new TrendingFeed(db.db, { bucketMs: 1, secret: SECRET, now: () => now });
  // Each first page below takes a new snapshot (1 ms buckets): cold rankings, queued.
  let running = 0;
  let most = 0;
  const rank = (feed as unknown as { rank: (...a: unknown[]) => Promise<unknown> }).rank.bind(feed);
  (feed as unknown as { rank: (...a: unknown[]) => Promise<unknown> }).rank = async (...a: unknown[]) => {
    running++;
    most = Math.max(most, running);
    try {
      return await rank(...a);
    } finally {
      running--;
    }
  };
  const pages = Array.from({ length: 8 }, () => {
    now += 5;
    return feed.page({ limit: 2 });
  });
  await Promise.all(pages);
  t.equal(feed.rankingsRun, 8, 'eight snapshots, eight rankings');
  t.equal(most, 1, 'never two at once');
});
