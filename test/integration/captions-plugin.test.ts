/**
 * A plugin's `filter:captions.transcribe` replaces the transcription engine: with pocketsphinx
 * configured, the automatic track of a new video is the plugin's text, made from the audio
 * the job handed it (its length is the video's).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { REPO_ROOT, startServer } from '../helpers/server.js';

const dir = await mkdtemp(join(tmpdir(), 'framecast-captions-plugin-'));
const plugin = { name: 'transcriber', path: join(REPO_ROOT, 'test/fixtures/plugins/transcriber'), config: { text: 'Said by the plugin' } };
const ladder = [{ name: '144p', height: 144, video_kbps: 150 }];
const source = await makeClip(dir, { width: 256, height: 144, seconds: 3, fps: 25 });
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('with pocketsphinx configured, the plugin transcribes instead', async (t) => {
  const server = await startServer({ config: { transcode: { ladder }, transcription: { engine: 'pocketsphinx', languages: ['en'], auto: true }, plugins: [plugin] } });
  t.teardown(() => server.stop());
  const admin = api(server.url, server.adminToken);
  const upload = await tusUpload(server.url, source, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'Transcribed' } });
  t.equal((await waitForVideo(admin, upload.videoId!)).status, 'ready');
  // The automatic captions job runs after the ladder.
  const video = await waitForVideo(admin, upload.videoId!, (v) => v.captions.some((c: { auto: boolean; url: string | null }) => c.auto && c.url), 120_000);
  const track = video.captions.find((c: { auto: boolean }) => c.auto);
  const vtt = await (await fetch(new URL(track.url, server.url))).text();
  t.equal(vtt.trim().split('\n').pop(), 'Said by the plugin (en, 3.0 s heard)', "the track is the plugin's, from the video's audio");
  t.match(server.logs(), /"engine":"plugin"[^\n]*"msg":"automatic captions made"/, 'the job says the plugin made it');
});
