/**
 * Bad input through a real node: every reject code of API.md from a matching file, kept on
 * the video as a non-retryable error; playlists and concat lists cannot make ffmpeg read
 * local files; the server keeps serving and other videos keep processing.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip, makeConcatList, makeHlsPlaylist, makePng, makeSubtitlesOnly, makeTextFile } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

// Small limits so that tiny generated clips can break them.
const server = await startServer({ config: { limits: { max_duration_s: 5, max_pixels: '1280x720' } } });
const dir = await mkdtemp(join(tmpdir(), 'framecast-rejects-'));
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);

async function uploadAndWait(file: string, name: string): Promise<any> {
  const up = await tusUpload(server.url, file, { token: server.adminToken, metadata: { filename: name } });
  return waitForVideo(admin, up.videoId!);
}

const cases: [string, () => Promise<string>, string][] = [
  ['a text file', () => makeTextFile(dir), 'E_NOT_MEDIA'],
  ['a PNG image', () => makePng(dir), 'E_NOT_MEDIA'],
  ['a file with neither audio nor video', () => makeSubtitlesOnly(dir), 'E_NO_VIDEO_STREAM'],
  ['a video in an unsupported codec', () => makeClip(dir, { width: 160, height: 120, seconds: 1, videoCodec: 'png', audio: false, name: 'png.mov' }), 'E_CODEC_UNSUPPORTED'],
  ['a video over limits.max_duration_s', () => makeClip(dir, { width: 160, height: 120, seconds: 7, name: 'long.mp4' }), 'E_TOO_LONG'],
  ['a video over limits.max_pixels', () => makeClip(dir, { width: 1920, height: 1080, seconds: 1, name: 'big.mp4' }), 'E_RESOLUTION_TOO_HIGH'],
];

for (const [what, make, code] of cases) {
  t.test(`${what} fails with ${code}`, async (t) => {
    const video = await uploadAndWait(await make(), what.replace(/\W+/g, '-'));
    t.equal(video.status, 'failed');
    t.equal(video.error?.code, code);
    t.equal(video.error?.retryable, false);
    t.type(video.error?.message, 'string');
    t.equal(video.playback.hls_url, null, 'nothing published');
  });
}

t.test('a playlist or concat list naming local files is refused and leaks nothing', async (t) => {
  const secret = join(dir, 'secret.txt');
  const marker = 'FRAMECAST-SECRET-MARKER-3141592653';
  await writeFile(secret, `${marker}\n`);
  const localClip = await makeClip(dir, { width: 160, height: 120, seconds: 1, name: 'local.mp4' });
  const files = [
    await makeHlsPlaylist(dir, [secret, localClip, 'file:///etc/passwd', 'http://127.0.0.1:9/x.ts']),
    await makeConcatList(dir, [secret, localClip, '/etc/passwd']),
  ];
  for (const file of files) {
    const video = await uploadAndWait(file, 'evil.mp4');
    t.equal(video.status, 'failed', file);
    t.equal(video.error?.code, 'E_NOT_MEDIA');
    // No output of any kind exists for it, and nothing anywhere holds the secret.
    const published = await readdir(join(server.dataDir, 'objects', 'media')).catch(() => [] as string[]);
    t.notOk(published.includes(video.id), 'no output published');
  }
  const all = await readdir(join(server.dataDir, 'objects'), { recursive: true, withFileTypes: true });
  for (const f of all.filter((e) => e.isFile() && !e.parentPath.includes('sources'))) {
    const text = await readFile(join(f.parentPath, f.name));
    if (text.includes(marker)) t.fail(`secret leaked into ${f.name}`);
  }
});

t.test('after all that, the node still serves and processes good videos', async (t) => {
  const ok = await uploadAndWait(await makeClip(dir, { width: 320, height: 180, seconds: 2, name: 'good.mp4' }), 'good.mp4');
  t.equal(ok.status, 'ready');
});
