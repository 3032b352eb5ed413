/**
 * Crash safety (issue 7): `kill -9` of the whole node (supervisor, HTTP and media
 * processes, ffmpeg) mid-upload and between "transcode done" and "published". After a
 * restart on the same data dir the client resumes to identical bytes, the old version
 * kept serving, no half-written version was ever visible, the job was retried, and no
 * video stays `processing` past `jobs.timeout_s`.
 */
import { request } from 'node:http';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { killNode, lookAtVideo, mediaProcess, onNode, portIsFree, restartNode, sha1, statusOf, storedSource } from '../helpers/crash.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { eventually } from '../helpers/readiness.js';
import { startServer } from '../helpers/server.js';

const dir = await mkdtemp(join(tmpdir(), 'framecast-crash-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A node on its own data dir that the test kills and restarts; stopped and removed at teardown. */
async function crashableNode(t: { teardown(fn: () => Promise<void>): void }, config: Record<string, unknown>) {
  const dataDir = await mkdtemp(join(dir, 'data-'));
  const node = { server: await startServer({ dataDir, config }) };
  t.teardown(async () => {
    await node.server.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return node;
}

t.test('kill -9 of the whole node mid-PATCH: the client resumes after restart to identical bytes', async (t) => {
  // Small: what is checked is the bytes and the resume, then that the video becomes ready.
  const clip = await makeClip(dir, { width: 640, height: 360, seconds: 4, name: 'upload.mp4' });
  const data = await readFile(clip);
  const config = { jobs: { timeout_s: 120 } };
  const node = await crashableNode(t, config);
  const first = node.server;

  const created = await fetch(`${first.url}/v1/uploads`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${first.adminToken}`,
      'tus-resumable': '1.0.0',
      'upload-length': String(data.length),
      'upload-metadata': `filename ${Buffer.from('upload.mp4').toString('base64')}`,
    },
  });
  t.equal(created.status, 201);
  const uploadUrl = new URL(created.headers.get('location')!, first.url).href;
  const videoId = created.headers.get('framecast-video-id')!;
  const partFile = join(first.dataDir, 'objects', 'tus', uploadUrl.split('/').pop()!);

  // A PATCH announcing the whole file that sends only half of it: the node dies mid-request.
  const half = Math.floor(data.length / 2);
  const patch = request(uploadUrl, {
    method: 'PATCH',
    headers: {
      authorization: `Bearer ${first.adminToken}`,
      'tus-resumable': '1.0.0',
      'upload-offset': '0',
      'content-type': 'application/offset+octet-stream',
      'content-length': String(data.length),
    },
  });
  const patchEnded = new Promise<string>((res) => {
    patch.on('error', (err) => res(err.message));
    patch.on('response', (r) => res(`answered ${r.statusCode}`));
  });
  patch.write(data.subarray(0, half));
  for (let i = 0; i < 600 && ((await stat(partFile).catch(() => undefined))?.size ?? 0) < half; i++) await sleep(50);
  t.equal((await stat(partFile)).size, half, 'the node stored the first half');
  const killed = await killNode(first);
  t.ok(killed.length >= 3, `killed the supervisor and its children (${killed.length} processes)`);
  t.notMatch(await patchEnded, /^answered/, 'the PATCH never got an answer');

  t.ok(await portIsFree(first.url), 'no orphan keeps the port');
  node.server = await restartNode(first, { config });
  const second = node.server;
  const head = await fetch(onNode(uploadUrl, second), { method: 'HEAD', headers: { authorization: `Bearer ${second.adminToken}`, 'tus-resumable': '1.0.0' } });
  t.equal(head.status, 200, 'the upload survived the crash');
  const offset = Number(head.headers.get('upload-offset'));
  t.ok(offset > 0 && offset < data.length, `it resumes from ${offset} of ${data.length}`);

  let resumedFrom = -1;
  const resumed = await tusUpload(second.url, clip, {
    token: second.adminToken,
    uploadUrl: onNode(uploadUrl, second),
    onProgress: (sent) => void (resumedFrom < 0 && (resumedFrom = sent)),
  });
  t.equal(resumed.aborted, false);
  t.ok(resumedFrom >= offset, 'tus-js-client sent only what was missing');
  t.equal(await sha1(storedSource(second.dataDir, videoId, 1)), await sha1(data), 'the stored source is the file, byte for byte');
  const admin = api(second.url, second.adminToken);
  const ready = await waitForVideo(admin, videoId, undefined, 120_000);
  t.equal(ready.status, 'ready', JSON.stringify(ready.error ?? ''));
});

t.test('kill -9 of the whole node while publishing v2: v1 keeps serving, no half-made v2 is visible, v2 ends ready', async (t) => {
  const clip = await makeClip(dir, { width: 640, height: 360, seconds: 4, name: 'publish.mp4' });
  const timeoutS = 40;
  const config = { jobs: { timeout_s: timeoutS } };
  const node = await crashableNode(t, config);
  const up = await tusUpload(node.server.url, clip, { token: node.server.adminToken, metadata: { filename: 'publish.mp4' } });
  const videoId = up.videoId!;
  const v1 = await waitForVideo(api(node.server.url, node.server.adminToken), videoId);
  t.equal(v1.status, 'ready', JSON.stringify(v1.error ?? ''));
  t.equal(v1.version, 1);
  const v1Master: string = v1.playback.hls_url;

  // A viewer keeps looking for the whole test; whenever the node answers, what it shows is whole.
  const problems: string[] = [];
  let v1Down = 0;
  let looks = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const look = await lookAtVideo(node.server.url, api(node.server.url, node.server.adminToken), videoId);
      if (look.kind === 'seen') {
        looks++;
        problems.push(...look.problems);
        const v1Status = await statusOf(onNode(v1Master, node.server));
        if (v1Status !== null && v1Status !== 200) v1Down++;
      }
      await sleep(25);
    }
  })();
  t.teardown(async () => {
    watching = false;
    await watcher;
  });

  // Reprocess until a kill lands inside the publish step (it is short; a miss just tries again).
  let hit = 0;
  let version = 1;
  for (let tries = 0; tries < 4 && !hit; tries++) {
    const admin = api(node.server.url, node.server.adminToken);
    const re = await admin.json('POST', `/v1/videos/${videoId}/reprocess`);
    t.equal(re.status, 202, 'reprocess accepted');
    version++;
    const media = await mediaProcess(node.server);
    const seen = await waitForVideo(admin, videoId, (v) => v.progress?.stage === 'publish' || v.version === version, 60_000, 5);
    if (seen.version === version) continue;
    await killNode(node.server, [media]);
    t.ok(await portIsFree(node.server.url), 'no orphan keeps the port');
    node.server = await restartNode(node.server, { config });
    const after = api(node.server.url, node.server.adminToken);
    const ready = await waitForVideo(after, videoId, (v) => v.version === version && v.status === 'ready' && !v.progress, 120_000);
    t.equal(ready.status, 'ready');
    // The version turns ready just before its job is marked done (and a kill after the
    // publish leaves a job to finish on the next process): wait for the job too.
    const succeeded = async () =>
      (await after.json('GET', '/v1/jobs?status=succeeded')).body.items.find((j: any) => j.video_id === videoId && j.version === version);
    const job = await eventually(succeeded, (j) => j !== undefined, `the v${version} job`).catch(() => undefined);
    t.ok(job, `the v${version} job succeeded`);
    if (job?.attempts === 2) hit = version;
  }
  watching = false;
  await watcher;
  t.ok(hit, `a kill landed between "transcode done" and "published" (v${hit}), and its job was retried`);
  t.ok(looks > 20, `the viewer looked ${looks} times`);
  t.same(problems, [], 'no half-written version was ever visible');
  t.equal(v1Down, 0, 'v1 kept serving whenever the node was up');

  const final = await waitForVideo(api(node.server.url, node.server.adminToken), videoId);
  t.equal(final.version, version, `the newest version (v${version}) serves now`);
  t.equal(await statusOf(onNode(v1Master, node.server)), 200, 'and the old one is still there');
});

t.test(`a whole-node kill mid-transcode never leaves a video processing past jobs.timeout_s`, async (t) => {
  const clip = await makeClip(dir, { width: 1280, height: 720, seconds: 20, name: 'slow.mp4' });
  // A timeout shorter than the transcode: after the crash the retried job must end, failed.
  const config = { transcode: { preset: 'medium' }, jobs: { timeout_s: 6 } };
  const node = await crashableNode(t, config);
  const admin1 = api(node.server.url, node.server.adminToken);
  const up = await tusUpload(node.server.url, clip, { token: node.server.adminToken, metadata: { filename: 'slow.mp4' } });
  const quick = await tusUpload(node.server.url, await makeClip(dir, { width: 320, height: 240, seconds: 1, name: 'quick.mp4' }), {
    token: node.server.adminToken,
    metadata: { filename: 'quick.mp4' },
  });
  await waitForVideo(admin1, up.videoId!, (v) => v.progress?.stage === 'transcode');
  await killNode(node.server);
  node.server = await restartNode(node.server, { config });
  const admin = api(node.server.url, node.server.adminToken);
  const slow = await waitForVideo(admin, up.videoId!, undefined, 120_000);
  t.equal(slow.status, 'failed');
  t.equal(slow.error?.code, 'E_PROCESSING_TIMEOUT');
  t.equal(slow.playback.hls_url, null, 'nothing half-made is published');
  const other = await waitForVideo(admin, quick.videoId!, undefined, 120_000);
  t.equal(other.status, 'ready', 'the video queued behind it still finished');
  const list = await admin.json('GET', '/v1/videos?limit=100');
  t.same(
    list.body.items.filter((v: any) => v.status === 'processing').map((v: any) => v.id),
    [],
    'no video is left processing',
  );
});
