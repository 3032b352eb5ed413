/**
 * The VOD spine through a real node: tus upload → probe → one-pass ladder → publish → the
 * origin serves a playable HLS/DASH version.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { FFPROBE, makeClip } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

const run = promisify(execFile);

const server = await startServer();
const dir = await mkdtemp(join(tmpdir(), 'framecast-spine-'));
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);

t.test('one-step tus upload of a 1080p clip becomes a ready adaptive stream', async (t) => {
  const clip = await makeClip(dir, { width: 1920, height: 1080, seconds: 4, name: 'hd.mp4' });
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'hd.mp4', title: 'My HD clip' } });
  t.match(up.videoId, /^[A-Za-z0-9_-]{12}$/, 'the creation response names the new video');
  const video = await waitForVideo(admin, up.videoId!);
  t.equal(video.status, 'ready', JSON.stringify(video.error ?? ''));
  t.equal(video.title, 'My HD clip');
  t.equal(video.version, 1);
  t.same(video.renditions.map((r: any) => r.name), ['240p', '360p', '480p', '720p', '1080p']);
  t.same(video.renditions.map((r: any) => [r.width, r.height]), [[426, 240], [640, 360], [854, 480], [1280, 720], [1920, 1080]]);
  t.ok(video.duration_ms >= 3900 && video.duration_ms <= 4200, `duration ${video.duration_ms}`);
  t.equal(video.width, 1920);
  t.equal(video.height, 1080);
  t.ok(video.ready_at);

  const master = await fetch(server.url + video.playback.hls_url);
  t.equal(master.status, 200);
  t.equal(master.headers.get('content-type'), 'application/vnd.apple.mpegurl');
  t.match(master.headers.get('cache-control'), /immutable/);
  const masterText = await master.text();
  t.equal((masterText.match(/#EXT-X-STREAM-INF/g) ?? []).length, 5, 'five variants');
  t.match(masterText, /CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/);

  // Every rendition plays: ffprobe reads the rung's playlist over HTTP from the origin.
  const base = server.url + video.playback.hls_url.replace(/master\.m3u8$/, '');
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_type,width,height', '-of', 'json', `${base}720p/index.m3u8`]);
  const streams = JSON.parse(stdout).streams as any[];
  t.same(streams.find((s) => s.codec_type === 'video'), { codec_type: 'video', width: 1280, height: 720 });

  const manifest = await admin.json('GET', `/v1/videos/${up.videoId}/manifest`);
  t.equal(manifest.status, 200);
  t.equal(manifest.body.version, 1);
  t.equal(manifest.body.ladder.length, 5);
  t.type(manifest.body.loudness, 'number', 'integrated loudness of the sine source');
  t.equal(manifest.body.hls_url, video.playback.hls_url);

  for (const [url, type] of [
    [video.playback.poster_url, 'image/jpeg'],
    [video.playback.thumbnail_vtt_url, 'text/vtt; charset=utf-8'],
    [video.playback.dash_url, 'application/dash+xml'],
    [video.playback.manifest_url, 'application/json; charset=utf-8'],
  ] as const) {
    const r = await fetch(server.url + url);
    t.equal(r.status, 200, url);
    t.equal(r.headers.get('content-type'), type, url);
  }
});

t.test('session-first flow, then a second upload makes v2 while v1 keeps serving', async (t) => {
  const created = await admin.json('POST', '/v1/videos', { title: 'Two versions', tags: ['a', 'b'], visibility: 'unlisted' });
  t.equal(created.status, 201);
  t.equal(created.body.status, 'awaiting_upload');
  t.same(created.body.upload, { endpoint: '/v1/uploads', metadata: { video_id: created.body.id } });
  const id = created.body.id as string;

  const clip1 = await makeClip(dir, { width: 640, height: 360, seconds: 3, name: 'v1.mp4' });
  await tusUpload(server.url, clip1, { token: server.adminToken, metadata: { video_id: id, filename: 'v1.mp4' } });
  const v1 = await waitForVideo(admin, id);
  t.equal(v1.status, 'ready');
  t.same(v1.renditions.map((r: any) => r.name), ['240p', '360p']);

  const clip2 = await makeClip(dir, { width: 854, height: 480, seconds: 3, name: 'v2.mp4' });
  await tusUpload(server.url, clip2, { token: server.adminToken, metadata: { video_id: id, filename: 'v2.mp4' } });
  const during = await admin.json('GET', `/v1/videos/${id}`);
  t.equal(during.body.status, 'ready', 'v1 still serves while v2 is processed');
  const v2 = await waitForVideo(admin, id, (v) => v.version === 2 && v.renditions.length === 3);
  t.same(v2.renditions.map((r: any) => r.name), ['240p', '360p', '480p']);
  t.match(v2.playback.hls_url, /\/v2\/master\.m3u8$/);
  const old = await fetch(server.url + v1.playback.hls_url);
  t.equal(old.status, 200, 'v1 stays reachable by its immutable URL');
});

t.test('a portrait source stays portrait and a video-only source has no audio', async (t) => {
  const clip = await makeClip(dir, { width: 360, height: 640, seconds: 3, audio: false, name: 'portrait.mp4' });
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'portrait.mp4' } });
  const video = await waitForVideo(admin, up.videoId!);
  t.equal(video.status, 'ready');
  t.same(video.renditions.map((r: any) => [r.name, r.width, r.height]), [['240p', 240, 426], ['360p', 360, 640]]);
  const master = await (await fetch(server.url + video.playback.hls_url)).text();
  t.notMatch(master, /TYPE=AUDIO/);
  t.notMatch(master, /mp4a/);
  const manifest = await admin.json('GET', `/v1/videos/${up.videoId}/manifest`);
  t.equal(manifest.body.loudness, null);
});

t.test('media route: Range, HEAD, ETag, and no way out of the version prefix', async (t) => {
  const clip = await makeClip(dir, { width: 320, height: 240, seconds: 2, name: 'small.mp4' });
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'small.mp4' } });
  const video = await waitForVideo(admin, up.videoId!);
  const poster = server.url + video.playback.poster_url;
  const full = await fetch(poster);
  const bytes = Buffer.from(await full.arrayBuffer());
  const etag = full.headers.get('etag')!;
  t.match(etag, /^"[^"]+"$/);
  const part = await fetch(poster, { headers: { range: 'bytes=10-19' } });
  t.equal(part.status, 206);
  t.equal(part.headers.get('content-range'), `bytes 10-19/${bytes.length}`);
  t.same(Buffer.from(await part.arrayBuffer()), bytes.subarray(10, 20));
  const bad = await fetch(poster, { headers: { range: `bytes=${bytes.length + 10}-` } });
  t.equal(bad.status, 416);
  const head = await fetch(poster, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.headers.get('content-length'), String(bytes.length));
  const cached = await fetch(poster, { headers: { 'if-none-match': etag } });
  t.equal(cached.status, 304);
  for (const evil of ['..%2F..%2Fsources%2Fx', '%2e%2e/%2e%2e/framecast.db', '..\\..\\x', 'a/../../poster.jpg', '%00poster.jpg']) {
    const r = await fetch(`${server.url}/media/${up.videoId}/v1/${evil}`);
    t.equal(r.status, 404, evil);
  }
});
