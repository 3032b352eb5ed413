/**
 * Plugins on a real node: a fixture plugin registering every hook (test/fixtures/plugins/
 * hook-recorder) sees each fire with the documented value and context, in pipeline and
 * priority order, and its filters change what happens; the built-in moderation-rules
 * plugin refuses videos with E_MODERATION_REJECTED and its reason; its routes are served
 * under /plugins/{name}/.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeIngestClip, pushRtmp, waitForLive } from '../helpers/live.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { REPO_ROOT, startServer } from '../helpers/server.js';

const dir = await mkdtemp(join(tmpdir(), 'framecast-plugins-'));
const logFile = join(dir, 'hooks.jsonl');
const server = await startServer({
  config: {
    plugins: [
      { name: 'hook-recorder', path: join(REPO_ROOT, 'test/fixtures/plugins/hook-recorder'), config: { log_file: logFile, greeting: 'hi' } },
      { name: 'moderation-rules', config: { max_duration_s: 3, banned_words: ['spam'] } },
    ],
    live: { reconnect_window_s: 1 },
  },
});
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);
const clip = await makeClip(dir, { width: 640, height: 360, seconds: 1 });
const longClip = await makeClip(dir, { width: 320, height: 180, seconds: 4, name: 'long.mp4' });

interface HookCall {
  hook: string;
  role: string;
  value: any;
  context: any;
  priority?: number;
}

async function calls(videoId?: string): Promise<HookCall[]> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const all = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as HookCall);
  if (!videoId) return all;
  return all.filter((c) => c.value?.video_id === videoId || c.value?.id === videoId || c.value?.video?.id === videoId || c.context?.video_id === videoId);
}

/** Waits for a hook call (actions run after the fact). */
async function callOf(hook: string, videoId: string): Promise<HookCall> {
  for (let i = 0; i < 200; i++) {
    const found = (await calls(videoId)).find((c) => c.hook === hook);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${hook} was not called for ${videoId}`);
}

t.test('every VOD hook fires with its documented arguments, in order', async (t) => {
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'Hooked' } });
  const id = up.videoId!;
  const video = await waitForVideo(admin, id);
  t.equal(video.status, 'ready');
  t.equal(video.title, 'Hooked [accepted]', 'filter:upload.accept changed the title before the video was created');
  t.equal(video.renditions.length, 1, 'filter:transcode.ladder kept only the lowest rung');
  t.equal(video.renditions[0].name, '240p');

  const ready = await callOf('action:video.ready', id);
  const upload = (await calls()).find((c) => c.hook === 'filter:upload.accept' && c.value.metadata.title === 'Hooked')!;
  t.ok(upload, 'filter:upload.accept saw the upload');
  t.same(upload.value, { video_id: null, filename: 'clip.mp4', size: upload.value.size, metadata: { filename: 'clip.mp4', title: 'Hooked' } });
  t.ok(upload.value.size > 0, 'with its declared size');
  t.same(upload.context.principal, { kind: 'admin', scopes: ['admin'] });
  t.equal(upload.role, 'http', 'upload hooks run in the HTTP process');

  const inspected = (await calls(id)).filter((c) => c.hook === 'filter:video.inspected');
  t.same(inspected.map((c) => c.priority), [10, 1], 'the higher priority handler ran first');
  const [first] = inspected;
  t.equal(first!.value.video.id, id, 'value.video is the video');
  t.equal(first!.value.video.title, 'Hooked [accepted]');
  t.match(first!.value.probe, { width: 640, height: 360, video_codec: 'h264' }, 'value.probe has the probe summary');
  t.ok(first!.value.probe.duration_ms > 900 && first!.value.probe.duration_ms < 1200);
  t.ok('audio_codec' in first!.value.probe);
  t.same(first!.context, { video_id: id, version: 1 });
  t.equal(first!.role, 'media', 'processing hooks run in the media process');

  const ladder = (await calls(id)).find((c) => c.hook === 'filter:transcode.ladder')!;
  t.same(ladder.value.map((r: { name: string }) => r.name), ['240p', '360p'], 'the ladder filter got the default ladder');
  t.equal(ladder.context.probe.height, 360);

  t.equal(ready.value.id, id, 'action:video.ready gets the video as GET /v1/videos/:id shows it');
  t.equal(ready.value.status, 'ready');
  t.same(ready.value.renditions, video.renditions);
  t.same(ready.context, { video_id: id, version: 1 });

  const order = (await calls(id)).map((c) => c.hook).filter((h) => h !== 'filter:playback.authorize');
  t.same([...new Set(order)], ['filter:video.inspected', 'filter:transcode.ladder', 'action:video.ready'], 'pipeline order');

  const master = await fetch(`${server.url}${video.playback.hls_url}`);
  t.equal(master.status, 200);
  const auth = await callOf('filter:playback.authorize', id);
  t.match(auth.value, { video_id: id, version: 1, file: 'master.m3u8', visibility: 'public', token: null });
  t.equal(auth.context.method, 'GET');
});

t.test('a refusing filter stops an upload before any byte is stored', async (t) => {
  await t.rejects(
    tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'refuse me' } }),
    /422[\s\S]*E_MODERATION_REJECTED[\s\S]*not welcome/,
  );
  const spam = await admin.json('POST', '/v1/videos', { title: 'Buy spam now' });
  await t.rejects(
    tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'Cheap SPAM' } }),
    /E_MODERATION_REJECTED[\s\S]*banned word/,
    'moderation-rules refuses banned titles at creation',
  );
  t.equal(spam.status, 201);
});

t.test('moderation-rules fails a video with E_MODERATION_REJECTED and its reason', async (t) => {
  const long = await tusUpload(server.url, longClip, { token: server.adminToken, metadata: { filename: 'long.mp4', title: 'Too long' } });
  const failed = await waitForVideo(admin, long.videoId!);
  t.equal(failed.status, 'failed');
  t.same(failed.error, { code: 'E_MODERATION_REJECTED', message: failed.error.message, retryable: false });
  t.match(failed.error.message, /at most 3 s are allowed/);

  // The title is banned once renamed: refused at inspection, after the upload.
  const created = await admin.json('POST', '/v1/videos', { title: 'Totally spam' });
  await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', video_id: created.body.id } });
  const banned = await waitForVideo(admin, created.body.id);
  t.equal(banned.error?.code, 'E_MODERATION_REJECTED');
  t.match(banned.error.message, /banned word \("spam"\)/);
  const failedCall = await callOf('action:video.failed', created.body.id);
  t.equal(failedCall.value.status, 'failed', 'action:video.failed gets the failed video');
  t.equal(failedCall.context.error.code, 'E_MODERATION_REJECTED');
});

t.test('plugin routes live under /plugins/{name}/', async (t) => {
  const hello = await admin.json('GET', '/plugins/hook-recorder/hello', undefined, null);
  t.equal(hello.status, 200);
  t.same(hello.body, { plugin: 'hook-recorder', greeting: 'hi' });
  t.equal((await admin.json('GET', '/plugins/hook-recorder/nothing', undefined, null)).status, 404);
  t.equal((await admin.json('POST', '/plugins/hook-recorder/deny/x', undefined, null)).status, 401, 'a route may require a scope');
});

t.test('filter:playback.authorize can refuse media (403)', async (t) => {
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'Blocked later' } });
  const video = await waitForVideo(admin, up.videoId!);
  t.equal((await fetch(`${server.url}${video.playback.hls_url}`)).status, 200);
  t.equal((await admin.json('POST', `/plugins/hook-recorder/deny/${video.id}`)).status, 204);
  const refused = await fetch(`${server.url}${video.playback.hls_url}`);
  t.equal(refused.status, 403);
  t.match(await refused.json(), { error: { code: 'E_FORBIDDEN', message: 'this video is blocked by hook-recorder' } });
});

t.test('live hooks: filter:live.publish, action:live.started and action:live.ended fire for a broadcast', async (t) => {
  const ingest = await makeIngestClip(dir, { seconds: 4, width: 320, height: 180 });
  const live = await admin.json('POST', '/v1/live', { title: 'Hooked live', record: false });
  t.equal(live.status, 201);
  const push = pushRtmp(live.body.rtmp_url, live.body.stream_key, ingest);
  t.teardown(() => push.stop());
  await waitForLive(admin, live.body.id, (l) => l.status === 'live');
  const publish = await callOf('filter:live.publish', live.body.id);
  t.equal(publish.value.title, 'Hooked live');
  t.type(publish.context.address, 'string');
  const started = await callOf('action:live.started', live.body.id);
  t.equal(started.value.status, 'live');
  t.equal(started.context.live_id, live.body.id);
  await push.exited;
  await waitForLive(admin, live.body.id, (l) => l.status === 'ended');
  const ended = await callOf('action:live.ended', live.body.id);
  t.equal(ended.value.status, 'ended');
  t.type(ended.context.reason, 'string');
});
