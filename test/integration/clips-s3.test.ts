/**
 * Clips on S3 (Ceph RGW) with PostgreSQL: a clip of a ready 8 s video is made from the
 * parent's objects (no local files to link), its inner segments are the parent's bytes in
 * objects of its own, and it keeps playing once the parent is deleted.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { FFMPEG, makeClip } from '../helpers/media-fixtures.js';
import { postgresUnavailable } from '../helpers/postgres.js';
import { s3Unavailable } from '../helpers/s3-server.js';
import { startSharedBackends } from '../helpers/shared-backends.js';
import { startServer } from '../helpers/server.js';

const run = promisify(execFile);
const unavailable = s3Unavailable() ?? (await postgresUnavailable());
if (unavailable) {
  t.test('clips on S3', { skip: unavailable }, () => {});
} else {
  const { dir, s3, bucket, env: backends } = await startSharedBackends(t, 'clips-s3');
  const server = await startServer({
    env: { ...backends },
    config: { transcode: { ladder: [{ name: '240p', height: 240, video_kbps: 300 }] } },
  });
  t.teardown(() => server.stop());
  const admin = api(server.url, server.adminToken);
  const bytes = async (path: string): Promise<Buffer> => {
    const r = await fetch(server.url + path);
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
    return Buffer.from(await r.arrayBuffer());
  };

  const source = await makeClip(dir, { width: 426, height: 240, seconds: 8, fps: 25 });
  const upload = await tusUpload(server.url, source, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'S3 parent' } });
  const parent = await waitForVideo(admin, upload.videoId!);
  if (parent.status !== 'ready') throw new Error(`the parent did not become ready: ${JSON.stringify(parent.error)}`);

  t.test('a clip made from S3 objects', async (t) => {
    const r = await admin.json('POST', `/v1/videos/${parent.id}/clips`, { start_s: 1.3, end_s: 6.5 });
    t.equal(r.status, 201);
    const clip = await waitForVideo(admin, r.body.id, undefined, 60_000, 100);
    t.equal(clip.status, 'ready', JSON.stringify(clip.error ?? null));
    t.ok(Math.abs(clip.duration_ms - 5200) <= 40, `5.2 s long (${clip.duration_ms} ms)`);
    const playlist = (await bytes(`/media/${clip.id}/v1/240p/index.m3u8`)).toString();
    const uris = playlist.split('\n').filter((l) => l.endsWith('.m4s'));
    t.equal(uris.length, 4, 'a cut head, 2–4 s, 4–6 s, a cut tail');
    t.same(await bytes(`/media/${clip.id}/v1/240p/${uris[1]}`), await bytes(`/media/${parent.id}/v1/240p/seg-00001.m4s`), '2–4 s is the parent’s bytes');
    t.same(await bytes(`/media/${clip.id}/v1/240p/${uris[2]}`), await bytes(`/media/${parent.id}/v1/240p/seg-00002.m4s`), '4–6 s is the parent’s bytes');
    const keys: string[] = [];
    for await (const item of s3.client.listObjectsV2(bucket, `media/${clip.id}/`, true)) keys.push((item as { name: string }).name);
    t.ok(keys.includes(`media/${clip.id}/v1/240p/${uris[1]}`), 'the clip holds its own copy in the bucket');

    t.equal((await admin.json('DELETE', `/v1/videos/${parent.id}`)).status, 204, 'the parent is deleted');
    for (const uri of uris) t.equal((await fetch(`${server.url}/media/${clip.id}/v1/240p/${uri}`)).status, 200, `${uri} is still served`);
    const { stderr } = await run(FFMPEG, ['-v', 'info', '-i', `${server.url}/media/${clip.id}/v1/master.m3u8`, '-f', 'null', '-'], { maxBuffer: 1 << 22 });
    t.match(stderr, /video:\d+kB audio:\d+kB/, 'the clip still decodes, picture and sound');
  });
}
