/**
 * origin.mode: redirect on S3: segments, init segments and posters answer 302 to a
 * presigned URL that the storage serves byte-identical; playlists stay on the node.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { s3Unavailable, startS3Server } from '../helpers/s3-server.js';
import { startServer } from '../helpers/server.js';

const unavailable = s3Unavailable();
if (unavailable) {
  t.test('origin redirect mode', { skip: unavailable }, () => {});
} else {
  const dir = await mkdtemp(join(tmpdir(), 'framecast-redirect-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const s3 = await startS3Server();
  t.teardown(() => s3.stop());
  const bucket = await s3.createBucket();
  const server = await startServer({
    env: { FRAMECAST_STORAGE_URL: s3.url(bucket), FRAMECAST_ROLES: 'api,worker' },
    config: { origin: { mode: 'redirect', redirect_ttl_s: 300 } },
  });
  t.teardown(() => server.stop());
  const admin = api(server.url, server.adminToken);

  t.test('heavy immutable files redirect to presigned storage URLs; playlists do not', async (t) => {
    const clip = await makeClip(dir, { width: 320, height: 180, seconds: 2 });
    const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4' } });
    const video = await waitForVideo(admin, up.videoId!);
    t.equal(video.status, 'ready');
    const base = server.url + video.playback.hls_url.replace(/master\.m3u8$/, '');

    const master = await fetch(`${base}master.m3u8`, { redirect: 'manual' });
    t.equal(master.status, 200, 'the master playlist is served by the node');
    const media = await (await fetch(`${base}180p/index.m3u8`, { redirect: 'manual' })).text();
    const segment = media.split('\n').find((l) => l.endsWith('.m4s'))!;

    for (const file of [`180p/${segment}`, 'poster.jpg']) {
      const r = await fetch(base + file, { redirect: 'manual' });
      t.equal(r.status, 302, `${file} redirects`);
      const location = r.headers.get('location')!;
      t.ok(location.startsWith(`http://${s3.host}:${s3.port}/`), `to the storage (${location.slice(0, 40)}…)`);
      t.match(location, /X-Amz-Signature=/, 'presigned');
      const direct = await fetch(location);
      t.equal(direct.status, 200, 'the storage serves it');
      t.ok((await direct.arrayBuffer()).byteLength > 0);
    }
  });
}
