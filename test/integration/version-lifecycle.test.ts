/**
 * Versions that linger and durations that lie, on one node (public_url set, a short
 * versions.grace_s, the webhooks plugin posting to a receiver on 127.0.0.1):
 *  - playback URLs are absolute under public_url;
 *  - after a reprocess the replaced version plays for the grace period only (with a max-age
 *    that ends with it), then answers 404 and its files are deleted; v2 keeps playing;
 *  - video.media_changed reaches the webhook for a new version, a visibility change and a
 *    delete, naming the URL prefixes to purge;
 *  - a video deleted mid-transcode leaves nothing in storage or scratch;
 *  - a file claiming 1 s with 20 s of frames fails fast with E_TOO_LONG.
 */
import { createServer } from 'node:http';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { lyingDurationFlv } from '../fixtures/hostile-corpus.js';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { eventually } from '../helpers/readiness.js';
import { startServer } from '../helpers/server.js';

const PUBLIC_URL = 'https://videos.example.test';
const GRACE_S = 6;

interface MediaChanged {
  video_id: string;
  reason: string;
  version: number | null;
  purge_prefixes: string[];
  replaced_served_until?: string;
}
const changes: MediaChanged[] = [];
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    const parsed = JSON.parse(body) as { event: string; data: MediaChanged };
    if (parsed.event === 'video.media_changed') changes.push(parsed.data);
    res.writeHead(200).end();
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;

const dir = await mkdtemp(join(tmpdir(), 'framecast-versions-'));
const server = await startServer({
  config: {
    public_url: PUBLIC_URL,
    versions: { grace_s: GRACE_S },
    plugins: [{ name: 'webhooks', config: { secret: 'versions-test-secret', endpoints: [{ url: hookUrl, events: ['video.media_changed'] }], poll_interval_ms: 100 } }],
  },
});
t.teardown(async () => {
  await server.stop();
  receiver.close();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);

/** GETs an absolute playback URL from this node (the public_url host is not reachable here). */
const getMedia = (url: string) => fetch(server.url + new URL(url).pathname);
const change = (videoId: string, reason: string) => eventually(async () => changes.find((c) => c.video_id === videoId && c.reason === reason), Boolean, `video.media_changed ${reason}`);

/** Every stored object (file) of the video, and its scratch dirs. */
async function leftovers(videoId: string): Promise<string[]> {
  const found: string[] = [];
  for (const area of ['sources', 'staging', 'media']) {
    const files = await readdir(join(server.dataDir, 'objects', area, videoId), { recursive: true, withFileTypes: true }).catch(() => []);
    found.push(...files.filter((f) => f.isFile()).map((f) => `${area}/${videoId}/${f.name}`));
  }
  const work = await readdir(join(server.dataDir, 'work')).catch(() => [] as string[]);
  found.push(...work.filter((e) => e.startsWith(videoId)).map((e) => `work/${e}`));
  return found;
}

t.test('a replaced version plays for the grace period, then 404 and its files are gone; media_changed names what to purge', async (t) => {
  const clip = await makeClip(dir, { width: 320, height: 180, seconds: 2, name: 'v.mp4' });
  const { videoId } = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'v.mp4', title: 'versions' } });
  const id = videoId!;
  const v1 = await waitForVideo(admin, id);
  t.equal(v1.status, 'ready');
  t.equal(v1.playback.hls_url, `${PUBLIC_URL}/media/${id}/v1/master.m3u8`, 'playback URLs are absolute under public_url');
  t.equal(v1.playback.poster_url, `${PUBLIC_URL}/media/${id}/v1/poster.jpg`);
  t.equal(v1.playback.manifest_url, `${PUBLIC_URL}/media/${id}/v1/manifest.json`);
  t.equal((await getMedia(v1.playback.hls_url)).status, 200);

  t.equal((await admin.json('POST', `/v1/videos/${id}/reprocess`)).status, 202);
  const v2 = await waitForVideo(admin, id, (v) => v.version === 2 && v.status === 'ready' && !v.progress);
  // Processes learn of the new version within origin.lookup_ttl_ms (≤ 2 s): until then a
  // process may still answer v1 as the current, immutable version.
  const old = await eventually(
    () => getMedia(v1.playback.hls_url),
    (r) => r.status !== 200 || !/immutable/.test(r.headers.get('cache-control') ?? ''),
    'v1 answered as a replaced version',
    4_000,
  );
  t.equal(old.status, 200, 'v1 still plays right after v2 is ready (grace period)');
  const maxAge = Number(/max-age=(\d+)/.exec(old.headers.get('cache-control') ?? '')?.[1]);
  t.ok(maxAge <= GRACE_S, `v1 may be cached no longer than its grace period (Cache-Control: ${old.headers.get('cache-control')})`);
  t.notMatch(old.headers.get('cache-control') ?? '', /immutable/);

  const replaced = await change(id, 'new_version');
  t.same(replaced!.purge_prefixes, [`${PUBLIC_URL}/media/${id}/v1/`]);
  t.equal(replaced!.version, 2);
  t.ok(Date.parse(replaced!.replaced_served_until!) > Date.now() - 60_000, 'says until when v1 is served');

  await eventually(async () => (await getMedia(v1.playback.hls_url)).status, (s) => s === 404, 'v1 answers 404 after the grace period', 30_000);
  await eventually(async () => readdir(join(server.dataDir, 'objects', 'media', id)), (vs) => !vs.includes('v1'), "v1's files deleted by the sweep", 30_000);
  t.equal((await getMedia(v2.playback.hls_url)).status, 200, 'v2 plays on');

  t.equal((await admin.json('PATCH', `/v1/videos/${id}`, { visibility: 'unlisted' })).status, 200);
  const visibility = await change(id, 'visibility');
  t.same(visibility!.purge_prefixes, [`${PUBLIC_URL}/media/${id}/`]);
});

t.test('a video deleted mid-transcode leaves nothing behind', async (t) => {
  const clip = await makeClip(dir, { width: 854, height: 480, seconds: 16, name: 'long.mp4' });
  const { videoId } = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'long.mp4', title: 'deleted mid-way' } });
  const id = videoId!;
  await waitForVideo(admin, id, (v) => v.progress?.stage === 'transcode' || v.status !== 'processing', 120_000, 100);
  const during = await admin.json('GET', `/v1/videos/${id}`);
  t.equal(during.body.progress?.stage, 'transcode', 'deleted while transcoding');
  t.equal((await admin.json('DELETE', `/v1/videos/${id}`)).status, 204);

  const deleted = await change(id, 'deleted');
  t.same(deleted!.purge_prefixes, [`${PUBLIC_URL}/media/${id}/`]);
  await eventually(() => Promise.resolve(server.logs()), (logs) => logs.includes('video deleted while processing; removed what this job wrote'), 'the job noticed the delete', 60_000);
  t.same(await leftovers(id), [], 'no source, staging, media or scratch left for the video');
  t.equal((await admin.json('GET', `/v1/videos/${id}`)).status, 404);
});

t.test('deleting a video removes the bytes of its upload still in progress', async (t) => {
  const created = await admin.json('POST', '/v1/videos', { title: 'half uploaded' });
  const id = created.body.id as string;
  const clip = await makeClip(dir, { width: 320, height: 180, seconds: 4, name: 'half.mp4' });
  const half = await tusUpload(server.url, clip, {
    token: server.adminToken,
    metadata: { filename: 'half.mp4', video_id: id },
    chunkSize: 32 * 1024,
    onProgress: (sent) => sent >= 32 * 1024,
  });
  t.ok(half.aborted && half.uploadUrl, 'the upload stopped part-way');
  const uploadId = half.uploadUrl!.split('/').pop()!;
  const tusFiles = () => readdir(join(server.dataDir, 'objects', 'tus')).then((names) => names.filter((n) => n.startsWith(uploadId)));
  t.ok((await tusFiles()).length > 0, 'its bytes are stored');
  t.equal((await admin.json('DELETE', `/v1/videos/${id}`)).status, 204);
  t.same(
    (await tusFiles()).filter((n) => !n.endsWith('.json')),
    [],
    'the partial upload is gone',
  );
});

t.test('a file claiming 1 s with 20 s of frames fails fast with E_TOO_LONG', async (t) => {
  const file = await lyingDurationFlv(dir);
  const { videoId } = await tusUpload(server.url, file, { token: server.adminToken, metadata: { filename: 'lying.flv', title: 'lying' } });
  const v = await waitForVideo(admin, videoId!);
  t.equal(v.status, 'failed');
  t.equal(v.error.code, 'E_TOO_LONG');
  t.match(v.error.message, /claims 1\.0 s but holds more than 4\.0 s of frames/);
  t.equal(v.error.retryable, false);
  t.same(await leftovers(videoId!).then((l) => l.filter((e) => !e.startsWith('sources/'))), [], 'nothing staged or published');
});
