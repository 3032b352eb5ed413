/**
 * Processing that users can rely on: a video plays while its ladder still encodes; a media
 * process killed mid-transcode costs a retry, not the video; processing over
 * `jobs.timeout_s` fails with E_PROCESSING_TIMEOUT and can be reprocessed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as HLS from 'hls-parser';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { eventually } from '../helpers/readiness.js';
import { startServer } from '../helpers/server.js';

HLS.setOptions({ strictMode: true });
const dir = await mkdtemp(join(tmpdir(), 'framecast-resilience-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
// Long enough that the ladder takes several seconds at the default preset on 2 cores.
const clip = await makeClip(dir, { width: 1280, height: 720, seconds: 24, name: 'long.mp4' });
// The crash test kills the media process a few percent into the ladder and then waits for the
// whole retry: a third of the length still leaves seconds of encoding at 720p, four rungs.
const crashClip = await makeClip(dir, { width: 1280, height: 720, seconds: 8, name: 'crash.mp4' });

// One node at the default test preset for the first two tests (the third needs its own config).
const server = await startServer({ config: { transcode: { preset: 'veryfast' } } });
t.teardown(() => server.stop());
const admin = api(server.url, server.adminToken);

t.test('the video plays before the transcode ends (instant publish)', async (t) => {
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'long.mp4' } });
  const early = await waitForVideo(admin, up.videoId!, (v) => v.status === 'ready' || (v.status === 'processing' && !!v.playback.hls_url));
  t.equal(early.status, 'processing', 'playable while still processing');
  t.equal(early.progress?.stage, 'transcode');

  const master = await fetch(server.url + early.playback.hls_url);
  t.equal(master.status, 200);
  t.match(master.headers.get('cache-control'), /max-age=1\b/, 'growing playlists are not cached for long');
  const masterText = await master.text();
  const growing = HLS.parse(masterText) as HLS.types.MasterPlaylist;
  t.ok(
    growing.variants.length > 0 && growing.variants.every((v) => v.codecs && v.resolution && v.frameRate && v.averageBandwidth),
    'the growing master passes strict parsing with CODECS, RESOLUTION, FRAME-RATE and AVERAGE-BANDWIDTH',
  );
  const variant = masterText.split('\n').find((l) => l.endsWith('.m3u8') && !l.startsWith('#'))!;
  const media = await fetch(new URL(variant, server.url + early.playback.hls_url));
  const mediaText = await media.text();
  t.match(mediaText, /#EXT-X-START:TIME-OFFSET=0/, 'players start at the beginning');
  t.notMatch(mediaText, /#EXT-X-ENDLIST/, 'still growing');
  const firstSegment = mediaText.split('\n').find((l) => l.endsWith('.m4s'))!;
  const seg = await fetch(new URL(firstSegment, media.url));
  t.equal(seg.status, 200, 'its segments are served');

  const moving = await waitForVideo(admin, up.videoId!, (v) => v.status === 'ready' || v.progress?.percent > 0);
  t.ok(moving.progress?.percent > 0 && moving.progress.percent < 100, `progress shows (${JSON.stringify(moving.progress)})`);
  const ready = await waitForVideo(admin, up.videoId!);
  t.equal(ready.status, 'ready');
  const final = await (await fetch(new URL(variant, server.url + ready.playback.hls_url))).text();
  t.match(final, /#EXT-X-PLAYLIST-TYPE:VOD/);
  t.match(final, /#EXT-X-ENDLIST/);
});

t.test('killing the media process mid-transcode ends with the job retried and the video ready', async (t) => {
  const up = await tusUpload(server.url, crashClip, { token: server.adminToken, metadata: { filename: 'crash.mp4' } });
  await waitForVideo(admin, up.videoId!, (v) => v.progress?.stage === 'transcode' && v.progress.percent > 5);
  const pid = await server.mediaPid();
  process.kill(pid, 'SIGKILL');
  const ready = await waitForVideo(admin, up.videoId!, undefined, 180_000);
  t.equal(ready.status, 'ready', JSON.stringify(ready.error ?? ''));
  t.equal(ready.renditions.length, 4);
  // The video turns ready just before the worker records the job's success.
  const succeeded = async () => ((await admin.json('GET', '/v1/jobs?status=succeeded')).body.items as any[]).find((j) => j.video_id === up.videoId);
  const job = await eventually(succeeded, (j) => j !== undefined, 'the job is recorded as succeeded', 10_000);
  t.equal(job?.attempts, 2, 'the second attempt finished the job');
  t.not(await server.mediaPid(), pid, 'the supervisor restarted the media process');
  t.match(server.logs(), /process died; restarting/);
  t.match(server.logs(), /took over the jobs of a media process that died/, 'the next media process took the job back without waiting out its lease');
});

t.test('processing longer than jobs.timeout_s fails with E_PROCESSING_TIMEOUT, retryable by reprocess', async (t) => {
  const server = await startServer({ config: { transcode: { preset: 'medium' }, jobs: { timeout_s: 1.5 } } });
  t.teardown(() => server.stop());
  const admin = api(server.url, server.adminToken);
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'slow.mp4' } });
  const failed = await waitForVideo(admin, up.videoId!);
  t.equal(failed.status, 'failed');
  t.equal(failed.error?.code, 'E_PROCESSING_TIMEOUT');
  t.equal(failed.error?.retryable, true);
  t.equal(failed.playback.hls_url, null, 'nothing half-made is published');
  const re = await admin.json('POST', `/v1/videos/${up.videoId}/reprocess`);
  t.equal(re.status, 202, 'reprocess accepted');
  t.equal(re.body.status, 'processing');
});
