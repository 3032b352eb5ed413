/**
 * Catalog reads on a real node: search ranks title matches above tag and description
 * matches and matches words as prefixes; the feed ranks by recent engagement from the
 * telemetry (newest first without any); and every list pages without repeating or skipping
 * a video while new videos and events keep arriving.
 */
import { join } from 'node:path';
import t from 'tap';
import { api } from '../helpers/api.js';
import { openSeedDb, seedVideos, viewStarts, type SeedVideo } from '../helpers/catalog-seed.js';
import { eventually } from '../helpers/readiness.js';
import { startServer } from '../helpers/server.js';

// Views must count at once here: the feed re-ranks on every first page.
const server = await startServer({ config: { catalog: { feed_refresh_s: 0 } } });
const db = openSeedDb(join(server.dataDir, 'framecast.db'));
t.teardown(async () => {
  db.close();
  await server.stop();
});
const admin = api(server.url, server.adminToken);
const anonymous = api(server.url, null);

let seq = 0;
const t0 = Date.now() - 3_600_000;
function video(title: string, extra: Partial<SeedVideo> = {}): SeedVideo {
  seq++;
  return { id: `cat${String(seq).padStart(9, '0')}`, title, created_at: t0 + seq * 1000, ...extra };
}

const inTitle = video('Kestrel hunting at dawn');
const inTags = video('Bird of prey', { tags: ['kestrel', 'falcon'] });
const inDescription = video('Morning walk', { description: 'We saw a kestrel hovering over the field, then went home for a long breakfast and coffee.' });
const titleTwice = video('Kestrel kestrel');
const unlisted = video('Kestrel secret', { visibility: 'unlisted' });
const processing = video('Kestrel unfinished', { status: 'processing' });
const other = video('Harbour seals');
seedVideos(db, [inTitle, inTags, inDescription, titleTwice, unlisted, processing, other]);

async function ids(path: string, who = admin): Promise<string[]> {
  const r = await who.json('GET', path);
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return (r.body.items as { id: string }[]).map((v) => v.id);
}

t.test('search ranks title matches first, then tags, then descriptions', async (t) => {
  const found = await ids('/v1/search?q=kestrel', anonymous);
  t.same(found.slice(0, 2).sort(), [inTitle.id, titleTwice.id].sort(), 'title matches first');
  t.same(found.slice(2), [inTags.id, inDescription.id], 'then the tag match, then the description match');
  t.notOk(found.includes(unlisted.id) || found.includes(processing.id), 'anonymous callers find ready public videos only');
  const all = await ids('/v1/search?q=kestrel');
  t.ok(all.includes(unlisted.id) && all.includes(processing.id), 'the admin finds every video');
});

t.test('words match as prefixes, every word must match', async (t) => {
  t.same((await ids('/v1/search?q=kest', anonymous)).sort(), [inTitle.id, inTags.id, inDescription.id, titleTwice.id].sort(), 'a prefix finds the word');
  t.same(await ids('/v1/search?q=kestrel%20daw', anonymous), [inTitle.id], 'each word is a prefix; all must match');
  t.same(await ids('/v1/search?q=HARBOUR', anonymous), [other.id], 'case does not matter');
  t.same(await ids('/v1/search?q=falc', anonymous), [inTags.id], 'tags are searched');
  t.same(await ids('/v1/search?q=%25%25', anonymous), [], 'symbols alone find nothing');
  t.same(await ids('/v1/search?q=zzzz', anonymous), []);
});

t.test('a PATCHed title is searchable at once (the index follows the table)', async (t) => {
  const created = await admin.json('POST', '/v1/videos', { title: 'Plain name', visibility: 'public' });
  t.same(await ids('/v1/search?q=ptarmigan'), []);
  await admin.json('PATCH', `/v1/videos/${created.body.id}`, { title: 'Ptarmigan in snow' });
  t.same(await ids('/v1/search?q=ptarmigan'), [created.body.id]);
  await admin.json('DELETE', `/v1/videos/${created.body.id}`);
  t.same(await ids('/v1/search?q=ptarmigan'), [], 'a deleted video is gone from search');
});

t.test('the feed is newest first without engagement, then ranked by it', async (t) => {
  const list = await ids('/v1/videos?limit=100', anonymous);
  t.same(await ids('/v1/feed?limit=100', anonymous), list, 'no engagement: the same as the newest-first list');

  const send = await anonymous.json('POST', '/v1/events', { events: [...viewStarts(inTags.id, 5), ...viewStarts(other.id, 2), ...viewStarts(unlisted.id, 9)] });
  t.equal(send.status, 202);
  t.equal(send.body.rejected, 9, 'an unlisted video takes no telemetry (API.md: public ready videos only)');
  // Events are written behind the request (telemetry.flush_interval_ms).
  const feed = await eventually(() => ids('/v1/feed?limit=100', anonymous), (f) => f[0] === inTags.id, 'the views ranked', 10_000);
  t.same(feed.slice(0, 2), [inTags.id, other.id], 'the most watched lately first');
  t.same(feed.slice(2), list.filter((id) => id !== inTags.id && id !== other.id), 'then the rest, newest first');
  t.notOk(feed.includes(unlisted.id), 'anonymous callers get public videos only');
  t.ok((await ids('/v1/feed?limit=100')).includes(unlisted.id), 'callers with the read scope see every visibility');
});

/** Follows next_cursor through `path` while `between()` inserts rows; returns the ids in page order. */
async function pageThrough(path: string, limit: number, between: (page: number) => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const r: { status: number; body: { items: { id: string }[]; next_cursor: string | null } } = await admin.json(
      'GET',
      `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
    seen.push(...r.body.items.map((v) => v.id));
    cursor = r.body.next_cursor;
    if (!cursor) break;
    await between(page);
  }
  return seen;
}

t.test('pages neither repeat nor skip while videos and events are inserted', async (t) => {
  const many = Array.from({ length: 60 }, (_, i) => video(`Osprey number ${i}`, { description: i % 3 === 0 ? 'osprey nest' : '', tags: i % 2 ? ['osprey'] : [] }));
  seedVideos(db, many);
  await anonymous.json('POST', '/v1/events', { events: many.slice(0, 25).flatMap((v, i) => viewStarts(v.id, 1 + (i % 4))) });

  let inserted = 0;
  // Between pages: new matching videos (newer than everything) and new engagement that would reorder a live ranking.
  const churn = async (page: number) => {
    const fresh = Array.from({ length: 3 }, () => video(`Osprey late arrival ${inserted++}`, { created_at: Date.now() }));
    seedVideos(db, fresh);
    await anonymous.json('POST', '/v1/events', { events: [...viewStarts(many[40 + (page % 20)]!.id, 20), ...viewStarts(fresh[0]!.id, 30)] });
  };
  for (const path of ['/v1/videos', '/v1/search?q=osprey', '/v1/feed']) {
    const before = new Set(await pageThrough(path, 100, async () => undefined));
    const seen = await pageThrough(path, 7, churn);
    t.equal(new Set(seen).size, seen.length, `${path}: no video twice`);
    t.same([...before].filter((id) => !seen.includes(id)), [], `${path}: every video that was there at the start was seen`);
  }
});
