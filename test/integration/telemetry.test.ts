/**
 * Telemetry against a real node: POST /v1/events keeps good events for public, ready videos
 * and reports the others by index, refuses bodies that are not a batch, rate-limits each
 * client address and all of them together; GET /v1/videos/:id/stats turns a known set of
 * events into exact figures, with the visibility rules of GET /v1/videos/:id. Under a
 * flood of batches an upload and its job still go through and the table holds only what
 * the limits let in.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { openSeedDb, seedVideos } from '../helpers/catalog-seed.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { eventually } from '../helpers/readiness.js';
import { startServer } from '../helpers/server.js';

const LIMITS = { per_address_batches_per_s: 2, total_batches_per_s: 10 };
// trust_proxy: the rate-limit tests speak for several client addresses through X-Forwarded-For.
// One HTTP process, so the per-process limits are the node's.
const server = await startServer({
  waitReady: false,
  config: { workers: 1, http: { trust_proxy: true }, telemetry: { ...LIMITS, flush_interval_ms: 50, buffer_max_events: 200_000 } },
});
const seedDb = openSeedDb(join(server.dataDir, 'framecast.db'));
t.teardown(async () => {
  seedDb.close();
  await server.stop();
});
const admin = api(server.url, server.adminToken);
const anon = api(server.url, null);

let seq = 0;
/** A video ready to play (seeded, not transcoded): telemetry only counts for public ready videos. */
function createVideo(visibility: 'public' | 'unlisted' | 'private' = 'public', status: 'ready' | 'processing' = 'ready'): string {
  const id = `tel${String(++seq).padStart(9, '0')}`;
  seedVideos(seedDb, [{ id, title: `telemetry ${visibility} ${status}`, visibility, status, created_at: Date.now() }]);
  return id;
}

// Each request speaks from its own address unless told, so the per-address limit never mixes tests up.
let address = 0;

/** Posts raw text as the body of POST /v1/events. */
async function postRaw(body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const from = { 'x-forwarded-for': `192.0.${(++address >> 8) & 255}.${address & 255}` };
  const r = await fetch(`${server.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...from, ...headers }, body });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null, headers: r.headers };
}

const postEvents = (events: unknown[]) => postRaw(JSON.stringify({ events }));

/** Stats once `views` views are written (events are written behind the request). */
const statsOnceWritten = (id: string, views: number, who = anon) =>
  eventually(
    () => who.json('GET', `/v1/videos/${id}/stats`),
    (r) => r.status === 200 && r.body.views >= views,
    `stats of ${id} with ${views} views`,
    10_000,
  );

let clock = 1_700_000_000_000;
/** An event of `type` for a video and session, with the common fields filled in. */
function ev(type: string, videoId: string, session: string, fields: Record<string, unknown> = {}) {
  return { type, video_id: videoId, session_id: session, ts: clock++, ...fields };
}

t.test('a batch with every event type is accepted anonymously', async (t) => {
  const id = createVideo();
  const s = 'session-every-type';
  const r = await postEvents([
    ev('view_start', id, s),
    ev('play', id, s, { position_s: 0 }),
    ev('ttff_ms', id, s, { ttff_ms: 420 }),
    ev('bitrate_change', id, s, { kbps: 1100, height: 480 }),
    ev('rebuffer', id, s, { duration_ms: 250 }),
    ev('seek', id, s, { from_s: 1.5, to_s: 3 }),
    ev('pause', id, s, { position_s: 3.2 }),
    ev('playback_error', id, s, { code: 'networkError/fragLoadError', message: 'timeout', fatal: true }),
    ev('view_end', id, s, { dwell_ms: 3000, percent_complete: 80 }),
  ]);
  t.equal(r.status, 202);
  t.same(r.body, { accepted: 9, rejected: 0, errors: [] });
  const stats = await statsOnceWritten(id, 1);
  t.equal(stats.status, 200);
  t.match(stats.body, { video_id: id, views: 1, unique_sessions: 1, watch_time_ms: 3000, ttff_p50_ms: 420, rebuffer_count: 1, playback_errors: 1 });
});

t.test('a mixed batch keeps the good events and reports exactly the bad ones by index', async (t) => {
  const id = createVideo();
  const s = 'session-mixed-batch';
  const r = await postEvents([
    ev('view_start', id, s), // 0 good
    ev('teleport', id, s), // 1 unknown type
    ev('play', id, s), // 2 good
    ev('view_end', id, s, { dwell_ms: -5, percent_complete: 50 }), // 3 negative dwell
    'not an event', // 4
    { type: 'pause', video_id: id, ts: clock++ }, // 5 no session_id
    ev('rebuffer', id, s, { duration_ms: 'long' }), // 6 not a number
    ev('view_end', id, s, { dwell_ms: 1000, percent_complete: 120 }), // 7 percent over 100
    ev('bitrate_change', id, s, { kbps: 600 }), // 8 good
    ev('ttff_ms', id, s), // 9 figure missing
    { ...ev('play', id, s), ts: 'yesterday' }, // 10 bad ts
  ]);
  t.equal(r.status, 202);
  t.equal(r.body.accepted, 3);
  t.equal(r.body.rejected, 8);
  t.same(
    r.body.errors.map((e: { index: number }) => e.index),
    [1, 3, 4, 5, 6, 7, 9, 10],
    'the refused events are named by their place in the batch',
  );
  const message = (index: number) => r.body.errors.find((e: { index: number }) => e.index === index).message as string;
  t.match(message(1), /type/);
  t.match(message(3), /dwell_ms/);
  t.match(message(5), /session_id/);
  t.match(message(6), /duration_ms/);
  t.match(message(7), /percent_complete/);
  t.match(message(9), /ttff_ms/);
  t.match(message(10), /ts/);
  const stats = await statsOnceWritten(id, 1);
  t.equal(stats.body.views, 1, 'the good events were kept');
});

t.test('a body that is not a batch is refused as a whole', async (t) => {
  for (const [label, body] of [
    ['events is not an array', '{"events": {"type": "play"}}'],
    ['no events key', '{"type": "play"}'],
    ['an array body', '[]'],
    ['a number', '42'],
    ['invalid JSON', '{"events": ['],
  ] as const) {
    const r = await postRaw(body);
    t.equal(r.status, 400, label);
    t.equal(r.body.error.code, 'E_BAD_REQUEST', label);
  }
  const tooMany = await postEvents(Array.from({ length: 501 }, () => ({ type: 'play' })));
  t.equal(tooMany.status, 413, 'more than 500 events is too large');
  t.equal(tooMany.body.error.code, 'E_TOO_LARGE');
  const empty = await postEvents([]);
  t.equal(empty.status, 202, 'an empty batch is fine');
  t.same(empty.body, { accepted: 0, rejected: 0, errors: [] });
});

t.test('events for unknown videos are refused one by one, not the batch', async (t) => {
  const id = createVideo();
  const s = 'session-unknown-video';
  const r = await postEvents([
    ev('view_start', id, s),
    ev('view_start', 'AAAAAAAAAAAA', s), // well formed, no such video
    ev('play', id, s),
    ev('play', '../../etc', s), // not an id at all
  ]);
  t.equal(r.status, 202);
  t.equal(r.body.accepted, 2);
  t.same(r.body.errors.map((e: { index: number }) => e.index), [1, 3]);
  t.match(r.body.errors[0].message, /no public ready video AAAAAAAAAAAA/);
  t.match(r.body.errors[1].message, /video_id/);
});

t.test('stats add up a known set of events exactly', async (t) => {
  const id = createVideo();
  const other = createVideo();
  const fresh = await anon.json('GET', `/v1/videos/${id}/stats`);
  t.same(
    fresh.body,
    {
      video_id: id,
      views: 0,
      unique_sessions: 0,
      watch_time_ms: 0,
      completion_rate: 0,
      ttff_p50_ms: null,
      ttff_p95_ms: null,
      rebuffer_ratio: 0,
      rebuffer_count: 0,
      rebuffer_ms: 0,
      playback_errors: 0,
    },
    'a video without events has zero figures and no TTFF',
  );

  const r = await postEvents([
    // s1: watched to 95 %, one stall; its view_start arrived twice (a resent beacon).
    ev('view_start', id, 's1-session'),
    ev('view_start', id, 's1-session'),
    ev('ttff_ms', id, 's1-session', { ttff_ms: 100 }),
    ev('rebuffer', id, 's1-session', { duration_ms: 500 }),
    ev('view_end', id, 's1-session', { dwell_ms: 10_000, percent_complete: 95 }),
    // s2: hid the tab at 50 %, came back and reached 92 %: two view_ends that add up.
    ev('view_start', id, 's2-session'),
    ev('ttff_ms', id, 's2-session', { ttff_ms: 200 }),
    ev('rebuffer', id, 's2-session', { duration_ms: 300 }),
    ev('view_end', id, 's2-session', { dwell_ms: 4000, percent_complete: 50 }),
    ev('rebuffer', id, 's2-session', { duration_ms: 200 }),
    ev('view_end', id, 's2-session', { dwell_ms: 2000, percent_complete: 92 }),
    // s3: left early.
    ev('view_start', id, 's3-session'),
    ev('ttff_ms', id, 's3-session', { ttff_ms: 300 }),
    ev('view_end', id, 's3-session', { dwell_ms: 4000, percent_complete: 10 }),
    // s4: started, slow first frame, never reported an end.
    ev('view_start', id, 's4-session'),
    ev('ttff_ms', id, 's4-session', { ttff_ms: 1000 }),
    ev('playback_error', id, 's4-session', { code: 'MEDIA_ERR_3', fatal: true }),
    // s5: a session without a view (only a pause arrived).
    ev('pause', id, 's5-session', { position_s: 1 }),
    // Another video's events must not count here.
    ev('view_start', other, 's1-session'),
    ev('ttff_ms', other, 's1-session', { ttff_ms: 9000 }),
    ev('view_end', other, 's1-session', { dwell_ms: 99_000, percent_complete: 100 }),
  ]);
  t.equal(r.status, 202);
  t.equal(r.body.rejected, 0);

  const stats = await statsOnceWritten(id, 4);
  t.equal(stats.status, 200);
  t.same(stats.body, {
    video_id: id,
    views: 4,
    unique_sessions: 5,
    watch_time_ms: 20_000,
    completion_rate: 0.5, // s1 and s2 of 4 views
    ttff_p50_ms: 200, // nearest rank of [100, 200, 300, 1000]
    ttff_p95_ms: 1000,
    rebuffer_ratio: 0.05, // 1000 ms of stalls over 20 s played
    rebuffer_count: 3,
    rebuffer_ms: 1000,
    playback_errors: 1,
  });
  t.equal(stats.headers.get('cache-control'), 'no-store');
});

t.test('events for private, unlisted or processing videos are not stored; private stats need a token that can see the video', async (t) => {
  const id = createVideo('private');
  const unlisted = createVideo('unlisted');
  const processing = createVideo('public', 'processing');
  const ready = createVideo();
  const r = await postEvents([
    ev('view_start', id, 'private-session'),
    ev('view_end', id, 'private-session', { dwell_ms: 1500, percent_complete: 30 }),
    ev('view_start', unlisted, 'unlisted-session'),
    ev('view_start', processing, 'processing-session'),
    ev('view_start', ready, 'ready-session'),
  ]);
  t.equal(r.status, 202);
  t.equal(r.body.accepted, 1, 'only the public ready video takes events');
  t.same(r.body.errors.map((e: { index: number }) => e.index), [0, 1, 2, 3]);
  t.ok(new Set(r.body.errors.map((e: { message: string }) => e.message.replace(/ \S+$/, ''))).size === 1, 'a private video is refused like a missing one');
  await statsOnceWritten(ready, 1);
  const stored = seedDb.prepare('select count(*) as n from playback_events where video_id in (?, ?, ?)').get(id, unlisted, processing) as { n: number };
  t.equal(stored.n, 0, 'nothing stored for them');

  const hidden = await anon.json('GET', `/v1/videos/${id}/stats`);
  t.equal(hidden.status, 404, 'anonymous callers cannot tell a private video exists');
  t.equal(hidden.body.error.code, 'E_NOT_FOUND');
  const shown = await admin.json('GET', `/v1/videos/${id}/stats`);
  t.equal(shown.status, 200);
  t.match(shown.body, { views: 0, watch_time_ms: 0 });
  const reader = await admin.json('POST', '/v1/tokens', { name: 'stats reader', scopes: ['read'] });
  const byReader = await api(server.url, reader.body.token).json('GET', `/v1/videos/${id}/stats`);
  t.equal(byReader.status, 200, 'a read token sees it too');

  t.equal((await anon.json('GET', `/v1/videos/${unlisted}/stats`)).status, 200, 'unlisted stats are readable by URL');
  t.equal((await anon.json('GET', '/v1/videos/AAAAAAAAAAAA/stats')).status, 404);
  t.equal((await anon.json('GET', '/v1/videos/nope/stats')).status, 404);
});

t.test('deleting a video with events removes them with it', async (t) => {
  const id = createVideo();
  await postEvents([ev('view_start', id, 'doomed-session')]);
  await statsOnceWritten(id, 1);
  const del = await admin.json('DELETE', `/v1/videos/${id}`);
  t.equal(del.status, 204);
  t.equal((await anon.json('GET', `/v1/videos/${id}/stats`)).status, 404);
  const late = await postEvents([ev('view_end', id, 'doomed-session', { dwell_ms: 1, percent_complete: 1 })]);
  t.same(late.body.errors.map((e: { index: number }) => e.index), [0], 'events for a deleted video are refused');
});

t.test('one address is rate-limited after its burst; others are not', async (t) => {
  const from = (ip: string) => postRaw('{"events": []}', { 'x-forwarded-for': ip });
  const burst = 2 * LIMITS.per_address_batches_per_s;
  // The earlier tests' batches count against the total too: let it fill up again first.
  await new Promise((r) => setTimeout(r, (2 * 1000 * LIMITS.total_batches_per_s) / LIMITS.total_batches_per_s));
  const answers = await Promise.all(Array.from({ length: burst + 2 }, () => from('203.0.113.7')));
  const statuses = answers.map((a) => a.status);
  const limited = answers.find((a) => a.status === 429);
  t.ok(limited, 'a client that keeps sending gets 429');
  t.ok(statuses.filter((s) => s === 202).length >= burst, `the burst of ${burst} batches is allowed first`);
  t.same([...new Set(statuses)].sort(), [202, 429], 'nothing else is answered');
  t.equal(limited!.body.error.code, 'E_RATE_LIMITED');
  t.match(limited!.body.error.message, /this address/);
  t.ok(Number(limited!.headers.get('retry-after')) >= 1, 'Retry-After says when to come back');
  t.equal((await from('198.51.100.9')).status, 202, 'another address is not affected');
});

t.test('under a flood from many addresses: 429 for all past the total, bounded rows, and uploads and jobs go through', async (t) => {
  const target = createVideo();
  const hidden = createVideo('private');
  const dir = await mkdtemp(join(tmpdir(), 'framecast-flood-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const clip = await makeClip(dir, { width: 160, height: 120, seconds: 2 });
  const before = (seedDb.prepare('select count(*) as n from playback_events').get() as { n: number }).n;
  // A full batch: 500 events, a few of them for a private video (refused, never stored).
  const batch = JSON.stringify({
    events: Array.from({ length: 500 }, (_, i) => ev(i % 50 === 0 ? 'view_start' : 'rebuffer', i % 100 === 7 ? hidden : target, `flood-${i % 40}-session`, { duration_ms: 5 })),
  });
  const started = Date.now();
  const FLOOD_MS = 3000;
  const statuses: number[] = [];
  let accepted = 0;
  let limited: { status: number; body: any } | undefined;
  // Many senders, each batch from a new address: only the total limit holds them. More at
  // once than the total burst, so the limit is met however slow the machine is.
  let n = 0;
  const senders = Array.from({ length: 3 * LIMITS.total_batches_per_s }, async () => {
    while (Date.now() - started < FLOOD_MS) {
      const r = await postRaw(batch, { 'x-forwarded-for': `10.${(++n >> 8) & 255}.${n & 255}.1` });
      statuses.push(r.status);
      if (r.status === 202) accepted += r.body.accepted;
      else limited ??= r;
    }
  });
  // Meanwhile an upload is made and processed.
  const upload = (async () => {
    const { videoId } = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'flood.mp4' } });
    return waitForVideo(admin, videoId!, undefined, 120_000);
  })();
  await Promise.all(senders);
  const elapsedS = (Date.now() - started) / 1000;

  const ok = statuses.filter((s) => s === 202).length;
  t.ok(limited, `batches past the total get 429 (${ok} of ${statuses.length} let in)`);
  t.equal(limited?.body.error.code, 'E_RATE_LIMITED');
  t.match(limited?.body.error.message, /no more event batches/);
  t.same([...new Set(statuses)].sort(), [202, 429], 'nothing else is answered (no 503 from a locked database)');
  const allowed = 2 * LIMITS.total_batches_per_s + Math.ceil(elapsedS * LIMITS.total_batches_per_s);
  t.ok(ok <= allowed, `at most burst + rate x time batches were let in (${ok} of ${statuses.length}; bound ${allowed})`);
  t.equal(accepted, ok * 495, 'each let-in batch stored its public video\'s events only');

  const video = await upload;
  t.equal(video.status, 'ready', 'the upload made during the flood was processed');
  const count = () => (seedDb.prepare('select count(*) as n from playback_events').get() as { n: number }).n - before;
  const stored = await eventually(async () => count(), (c) => c >= accepted, 'the flood written', 30_000);
  t.equal(stored, accepted, 'the table holds exactly what was accepted, within the bound');
  t.ok(stored <= allowed * 500, 'playback_events grew by at most the limit allows');
  const leaked = seedDb.prepare('select count(*) as n from playback_events where video_id = ?').get(hidden) as { n: number };
  t.equal(leaked.n, 0, 'no event for the private video was stored');
});
