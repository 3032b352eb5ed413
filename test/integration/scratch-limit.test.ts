/**
 * The worker's scratch area is bounded: a job whose outputs would not fit under
 * transcode.scratch_max_bytes is not started (the disk is not filled); it fails retryably
 * with E_UNAVAILABLE once its attempts are used, and nothing is published.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';
import { scratchEstimate, scratchUsage } from '../../core/jobs/handlers/scratch.js';

const dir = await mkdtemp(join(tmpdir(), 'framecast-scratch-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('the estimate counts the outputs of the ladder and the copied source', async (t) => {
  // 10 s at 1000 kbps = 1.25 MB of outputs, +10 %; plus a 5 MB source copy.
  t.equal(scratchEstimate({ sourceBytes: 5_000_000, copiesSource: true, durationMs: 10_000, totalKbps: 1000 }), 5_000_000 + 1_375_000);
  t.equal(scratchEstimate({ sourceBytes: 5_000_000, copiesSource: false, durationMs: 10_000, totalKbps: 1000 }), 1_375_000);
  t.equal(await scratchUsage(join(dir, 'missing')), 0);
});

t.test('a job that would overflow the scratch area is held back and fails retryably', async (t) => {
  const server = await startServer({ config: { transcode: { scratch_max_bytes: 10_000 }, jobs: { max_attempts: 2 } } });
  t.teardown(() => server.stop());
  const admin = api(server.url, server.adminToken);
  const clip = await makeClip(dir, { width: 320, height: 180, seconds: 2 });
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4' } });
  const video = await waitForVideo(admin, up.videoId!);
  t.equal(video.status, 'failed');
  t.equal(video.error?.code, 'E_UNAVAILABLE');
  t.equal(video.error?.retryable, true);
  t.match(video.error?.message, /scratch area is full/);
  t.equal(video.playback.hls_url, null);
});
