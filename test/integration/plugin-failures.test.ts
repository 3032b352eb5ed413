/**
 * A badly written plugin (test/fixtures/plugins/throwing) cannot take the node down: its
 * throwing cosmetic filter is skipped, its throwing actions and their stray exceptions and
 * rejections are logged, a throwing access filter fails closed (403), a filter that never
 * answers is cut off (the upload is refused), and the node keeps serving throughout.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { REPO_ROOT, startServer } from '../helpers/server.js';

const dir = await mkdtemp(join(tmpdir(), 'framecast-plugin-failures-'));
const server = await startServer({
  config: {
    plugins: [
      { name: 'throwing', path: join(REPO_ROOT, 'test/fixtures/plugins/throwing') },
      { name: 'missing-plugin-that-does-not-exist' },
    ],
  },
});
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);
const clip = await makeClip(dir, { width: 320, height: 180, seconds: 1 });

t.test('videos still process and play when a plugin throws everywhere', async (t) => {
  const mediaPid = await server.mediaPid();
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'Survivor' } });
  const video = await waitForVideo(admin, up.videoId!);
  t.equal(video.status, 'ready', 'the throwing ladder filter was skipped');
  t.same(video.renditions.map((r: { name: string }) => r.name), ['180p'], 'with the default ladder');
  // The action throws, then throws again later from a timer and leaves a rejection behind.
  for (let i = 0; i < 100 && !server.logs().includes('a plugin threw outside any hook'); i++) await new Promise((r) => setTimeout(r, 100));
  t.match(server.logs(), /plugin action failed; ignored/, 'the throwing action was logged');
  t.match(server.logs(), /a plugin threw outside any hook; ignored/, 'its stray exception was logged, not fatal');
  t.match(server.logs(), /unhandled promise rejection \(ignored\)/);
  t.equal(await server.mediaPid(), mediaPid, 'the media process is the same one');
  t.equal((await fetch(`${server.url}/healthz`)).status, 200);

  const master = await fetch(`${server.url}${video.playback.hls_url}`);
  t.equal(master.status, 200, 'media still plays');
  const poster = await fetch(`${server.url}${video.playback.poster_url}`);
  t.equal(poster.status, 403, 'an access filter that throws fails closed');
  t.match(await poster.json(), { error: { code: 'E_FORBIDDEN', message: /plugin "throwing" failed on filter:playback.authorize: authorize exploded/ } });
});

t.test('a filter that never answers is cut off by its time limit', async (t) => {
  await t.rejects(
    tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'hang' } }),
    /E_MODERATION_REJECTED[\s\S]*did not answer within/,
  );
  t.equal((await fetch(`${server.url}/healthz`)).status, 200);
});

t.test('a plugin that cannot be loaded is logged and the node runs without it', async (t) => {
  t.match(server.logs(), /missing-plugin-that-does-not-exist[\s\S]*plugin failed to load/);
});
