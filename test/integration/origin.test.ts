/**
 * The caching origin through a real node: cache hits and coalesced misses (read from the
 * admin stats route), streaming of objects over the cache limit, compressed playlists,
 * Range/HEAD/ETag/304/416, CORS, a traversal sweep, and growing playlists that are never
 * stale for long.
 */
import { request } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

/** Objects above this stream; the clip's video segments are larger, its init segments smaller. */
const MAX_CACHED = 20_000;

const server = await startServer({
  config: {
    origin: { max_cached_object_bytes: MAX_CACHED, mutable_ttl_ms: 500 },
    // Slow enough that a longer clip stays "processing" while its playlists grow.
    transcode: { preset: 'medium' },
  },
});
const dir = await mkdtemp(join(tmpdir(), 'framecast-origin-'));
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request with the path sent exactly as given (fetch would normalize `..` away). */
function raw(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

type Stats = Record<'hits' | 'misses' | 'coalesced' | 'streamed' | 'bytes_served' | 'cache_bytes' | 'max_cached_object_bytes' | 'cache_limit_bytes', number>;

async function stats(): Promise<Stats> {
  const r = await admin.json('GET', '/v1/origin/stats');
  if (r.status !== 200) throw new Error(`stats: ${r.status}`);
  return r.body;
}

function delta(before: Stats, after: Stats): Record<string, number> {
  return Object.fromEntries((['hits', 'misses', 'coalesced', 'streamed'] as const).map((k) => [k, after[k] - before[k]]));
}

const clip = await makeClip(dir, { width: 640, height: 360, seconds: 4, name: 'clip.mp4' });
const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'Origin' } });
const video = await waitForVideo(admin, up.videoId!);
const id = up.videoId!;
const base = `/media/${id}/v1/`;
const onDisk = (file: string) => readFile(join(server.dataDir, 'objects', 'media', id, 'v1', file));

t.test('the video is ready', async (t) => {
  t.equal(video.status, 'ready');
});

t.test('stats are for admins only', async (t) => {
  t.equal((await api(server.url, null).json('GET', '/v1/origin/stats')).status, 401);
  const s = await stats();
  t.equal(s.max_cached_object_bytes, MAX_CACHED);
  t.equal(s.cache_limit_bytes, 268435456);
});

t.test('the second GET of a segment is a cache hit', async (t) => {
  const file = '240p/init_240p.mp4';
  const bytes = await onDisk(file);
  t.ok(bytes.length <= MAX_CACHED, 'small enough to cache');
  const before = await stats();
  const first = await raw(base + file);
  const mid = await stats();
  const second = await raw(base + file);
  const after = await stats();
  t.same(first.body, bytes);
  t.same(second.body, bytes);
  t.same(delta(before, mid), { hits: 0, misses: 1, coalesced: 0, streamed: 0 });
  t.same(delta(mid, after), { hits: 1, misses: 0, coalesced: 0, streamed: 0 });
  t.equal(after.bytes_served - mid.bytes_served, bytes.length);
});

t.test('concurrent GETs of a cold object share one storage read', async (t) => {
  const file = '360p/init_360p.mp4';
  const bytes = await onDisk(file);
  const n = 8;
  const before = await stats();
  const all = await Promise.all(Array.from({ length: n }, () => raw(base + file)));
  const after = await stats();
  for (const r of all) t.same(r.body, bytes);
  const d = delta(before, after);
  // Requests that arrive after the one read finished are hits instead: both avoid storage.
  t.equal(d.misses, 1, 'one storage read');
  t.equal(d.coalesced! + d.hits!, n - 1, `the others waited for it or found it cached (${d.coalesced} coalesced)`);
});

t.test('an object over the cache limit streams with correct bytes and ranges', async (t) => {
  const file = '360p/seg-00000.m4s';
  const bytes = await onDisk(file);
  t.ok(bytes.length > MAX_CACHED, `${bytes.length} bytes is over the limit`);
  const before = await stats();
  const full = await raw(base + file);
  t.equal(full.status, 200);
  t.equal(full.headers['content-type'], 'video/iso.segment');
  t.equal(full.headers['content-length'], String(bytes.length));
  t.same(full.body, bytes);
  const mid = Math.floor(bytes.length / 2);
  const part = await raw(base + file, { range: `bytes=${mid}-${mid + 999}` });
  t.equal(part.status, 206);
  t.equal(part.headers['content-range'], `bytes ${mid}-${mid + 999}/${bytes.length}`);
  t.same(part.body, bytes.subarray(mid, mid + 1000));
  const tail = await raw(base + file, { range: 'bytes=-500' });
  t.same(tail.body, bytes.subarray(bytes.length - 500));
  const after = await stats();
  t.equal(after.streamed - before.streamed, 3, 'every body streamed from storage');
  t.equal(after.cache_bytes - before.cache_bytes < 1000, true, 'and none of it buffered in the cache');
});

t.test('playlists and VTT come compressed (br preferred, gzip) with Vary, decoding to the stored bytes', async (t) => {
  for (const file of ['master.m3u8', '240p/index.m3u8', 'master.mpd', 'storyboard.vtt']) {
    const identity = await onDisk(file);
    const br = await raw(base + file, { 'accept-encoding': 'gzip, deflate, br' });
    t.equal(br.headers['content-encoding'], 'br', file);
    t.equal(br.headers.vary, 'Accept-Encoding', file);
    t.same(brotliDecompressSync(br.body), identity, `${file} br`);
    const gz = await raw(base + file, { 'accept-encoding': 'gzip' });
    t.equal(gz.headers['content-encoding'], 'gzip', file);
    t.same(gunzipSync(gz.body), identity, `${file} gzip`);
    t.not(gz.headers.etag, br.headers.etag, 'each coding its own ETag');
    const plain = await raw(base + file);
    t.equal(plain.headers['content-encoding'], undefined);
    t.equal(plain.headers.vary, 'Accept-Encoding');
    t.same(plain.body, identity);
    const part = await raw(base + file, { 'accept-encoding': 'br', range: 'bytes=0-6' });
    t.equal(part.status, 206);
    t.equal(part.headers['content-encoding'], undefined, 'ranges are served from the identity bytes');
    t.same(part.body, identity.subarray(0, 7));
  }
  const segment = await raw(`${base}240p/init_240p.mp4`, { 'accept-encoding': 'br' });
  t.equal(segment.headers['content-encoding'], undefined, 'segments are never compressed');
});

t.test('Range at the start, middle, end and beyond; HEAD; ETag and 304; Cache-Control', async (t) => {
  const file = 'poster.jpg';
  const bytes = await onDisk(file);
  const size = bytes.length;
  const full = await raw(base + file);
  t.equal(full.status, 200);
  t.equal(full.headers['content-type'], 'image/jpeg');
  t.equal(full.headers['accept-ranges'], 'bytes');
  t.equal(full.headers['cache-control'], 'public, max-age=31536000, immutable');
  const etag = String(full.headers.etag);
  t.match(etag, /^"[^"]+"$/, 'a strong validator');
  for (const [range, start, end] of [
    ['bytes=0-99', 0, 99],
    [`bytes=${Math.floor(size / 2)}-${Math.floor(size / 2) + 9}`, Math.floor(size / 2), Math.floor(size / 2) + 9],
    [`bytes=${size - 10}-`, size - 10, size - 1],
    ['bytes=-10', size - 10, size - 1],
    [`bytes=${size - 5}-${size + 100}`, size - 5, size - 1],
  ] as const) {
    const r = await raw(base + file, { range });
    t.equal(r.status, 206, range);
    t.equal(r.headers['content-range'], `bytes ${start}-${end}/${size}`, range);
    t.equal(r.headers['content-length'], String(end - start + 1), range);
    t.same(r.body, bytes.subarray(start, end + 1), range);
  }
  for (const range of [`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`, 'bytes=-0']) {
    const r = await raw(base + file, { range });
    t.equal(r.status, 416, range);
    t.equal(r.headers['content-range'], `bytes */${size}`, range);
    t.equal(JSON.parse(r.body.toString()).error.code, 'E_BAD_REQUEST');
  }
  const head = await raw(base + file, {}, 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.headers['content-length'], String(size));
  t.equal(head.headers.etag, etag);
  t.equal(head.body.length, 0);
  const headRange = await raw(base + file, { range: 'bytes=0-9' }, 'HEAD');
  t.equal(headRange.status, 206);
  t.equal(headRange.headers['content-length'], '10');
  const notModified = await raw(base + file, { 'if-none-match': etag });
  t.equal(notModified.status, 304);
  t.equal(notModified.headers.etag, etag);
  t.equal(notModified.body.length, 0);
  t.equal((await raw(base + file, { 'if-none-match': '"something-else"' })).status, 200);
  const brPlaylist = await raw(`${base}master.m3u8`, { 'accept-encoding': 'br' });
  const again = await raw(`${base}master.m3u8`, { 'accept-encoding': 'br', 'if-none-match': String(brPlaylist.headers.etag) });
  t.equal(again.status, 304, 'the compressed representation revalidates too');
  t.equal(again.headers.vary, 'Accept-Encoding');
});

t.test('CORS: players on other origins may fetch, range and read the headers', async (t) => {
  const pre = await raw(`${base}240p/seg-00000.m4s`, { origin: 'https://player.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' }, 'OPTIONS');
  t.equal(pre.status, 204);
  t.equal(pre.headers['access-control-allow-origin'], '*');
  t.match(pre.headers['access-control-allow-methods'], /GET/);
  t.match(pre.headers['access-control-allow-methods'], /HEAD/);
  t.match(String(pre.headers['access-control-allow-headers']).toLowerCase(), /\brange\b/);
  const get = await raw(`${base}master.m3u8`, { origin: 'https://player.example' });
  t.equal(get.headers['access-control-allow-origin'], '*');
  const exposed = String(get.headers['access-control-expose-headers']).toLowerCase();
  for (const h of ['content-range', 'etag', 'content-length']) t.match(exposed, h);
  const missing = await raw(`${base}nothing.m3u8`, { origin: 'https://player.example' });
  t.equal(missing.status, 404);
  t.equal(missing.headers['access-control-allow-origin'], '*', 'errors are readable cross-origin too');
});

t.test('a traversal sweep never leaves the version prefix', async (t) => {
  const prefix = `/media/${id}/v1/`;
  const evil = [
    '../../sources/ID/v1/source',
    '..%2F..%2Fsources%2FID%2Fv1%2Fsource',
    '%2e%2e/%2e%2e/framecast.db',
    '%2E%2E%2F%2E%2E%2Fframecast.db',
    '.%2e/.%2e/framecast.db',
    '%2e./%2e./admin-token',
    '..\\..\\framecast.db',
    '..%5C..%5Cframecast.db',
    '%5C..%5C..%5Cadmin-token',
    '%00poster.jpg',
    'poster.jpg%00.m3u8',
    'master.m3u8%00',
    '/etc/passwd',
    '%2Fetc%2Fpasswd',
    '%252e%252e/%252e%252e/framecast.db',
    '%c0%ae%c0%ae/framecast.db',
    '....//....//framecast.db',
    '240p/../../../sources/ID/v1/source',
    '240p/%2e%2e/%2e%2e/%2e%2e/x.m3u8',
    '240p/..%2f..%2fmaster.m3u8',
    'a/b/240p/index.m3u8',
    '.hidden.m3u8',
    '..',
    'C:%5CWindows%5Cwin.ini',
    'file:%2F%2F%2Fetc%2Fpasswd',
    '240p/index.m3u8/..',
    'poster.jpg/../../../../framecast.db',
  ].map((p) => prefix + p.replace('ID', id));
  evil.push(
    `/media/..%2F..%2Fobjects/v1/poster.jpg`,
    `/media/${id}/..%2Fv1/poster.jpg`,
    `/media/${id}/v1%2F..%2F..%2Fsources/x.jpg`,
    `/media/${id}%2F..%2F..%2F/v1/poster.jpg`,
    `/media/%2e%2e/v1/framecast.db`,
  );
  t.ok(evil.length >= 30);
  for (const path of evil) {
    const r = await raw(path);
    t.ok(r.status === 404 || r.status === 400, `${path} → ${r.status}`);
    t.notMatch(r.body.toString('latin1'), /SQLite format|test-admin-token|ftypisom/, `${path} leaks nothing`);
  }
});

t.test('a growing playlist is never served stale for more than about a second', async (t) => {
  const long = await makeClip(dir, { width: 640, height: 360, seconds: 30, name: 'long.mp4' });
  const upLong = await tusUpload(server.url, long, { token: server.adminToken, metadata: { filename: 'long.mp4' } });
  const playable = await waitForVideo(admin, upLong.videoId!, (v) => v.playback.hls_url !== null || v.status !== 'processing');
  t.equal(playable.status, 'processing', 'playable while still processing');
  const url = playable.playback.hls_url.replace(/master\.m3u8$/, '240p/index.m3u8');
  const stagingFile = join(server.dataDir, 'objects', 'staging', upLong.videoId!, 'v1', '240p', 'index.m3u8');
  const segments = (text: string) => (text.match(/#EXTINF/g) ?? []).length;
  const seen = new Set<number>();
  let checks = 0;
  for (;;) {
    const current = await admin.json('GET', `/v1/videos/${upLong.videoId}`);
    if (current.body.status !== 'processing') break;
    let stored: string;
    try {
      stored = await readFile(stagingFile, 'utf8');
    } catch {
      break; // published meanwhile
    }
    // Longer than the mutable TTL (0.5 s) plus the state lookup TTL: the origin must have re-read it.
    await new Promise((r) => setTimeout(r, 1600));
    const served = await raw(url);
    t.equal(served.status, 200);
    const text = served.body.toString();
    if (!text.includes('#EXT-X-ENDLIST')) t.equal(served.headers['cache-control'], 'public, max-age=1', 'growing playlists are short-lived for clients too');
    const n = segments(text);
    t.ok(n >= segments(stored), `served ${n} segments, storage had ${segments(stored)} before the wait`);
    seen.add(n);
    checks++;
  }
  t.ok(checks >= 2, `checked ${checks} times while processing`);
  t.ok(seen.size >= 2, `watched the playlist grow: ${[...seen].join(' → ')} segments`);
  const done = await waitForVideo(admin, upLong.videoId!);
  t.equal(done.status, 'ready');
  const final = await raw(url);
  t.match(final.body.toString(), /#EXT-X-ENDLIST/, 'the final playlist replaces the growing one');
  t.equal(final.headers['cache-control'], 'public, max-age=31536000, immutable');
});
