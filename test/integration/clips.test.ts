/**
 * Clips of a ready 20 s video (25 fps, two rungs and audio), on one node:
 *  - 4.2 s → 11.7 s: ready in seconds, 7.5 s long, its first picture is the parent's at 4.2 s,
 *    the segments wholly inside the range are the parent's bytes, audio included;
 *    hls.js (HLS) and Shaka (DASH) in Chromium play it through to the end;
 *  - "snap": the range grows to the segment boundaries (4 → 12 s) and every segment is the parent's;
 *  - bad ranges are refused; a clip of a video that is not ready is a conflict;
 *  - deleting the parent leaves the clip playing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { launchBrowser } from '../helpers/browser.js';
import { FFMPEG, makeClip } from '../helpers/media-fixtures.js';
import { REPO_ROOT, startServer } from '../helpers/server.js';

const run = promisify(execFile);
const LADDER = [
  { name: '240p', height: 240, video_kbps: 300 },
  { name: '360p', height: 360, video_kbps: 600 },
];

const dir = await mkdtemp(join(tmpdir(), 'framecast-clips-'));
const server = await startServer({ config: { transcode: { ladder: LADDER } } });
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);

const source = await makeClip(dir, { width: 640, height: 360, seconds: 20, fps: 25 });
const upload = await tusUpload(server.url, source, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'Clip parent' } });
const parentId = upload.videoId!;
const parent = await waitForVideo(admin, parentId);
if (parent.status !== 'ready') throw new Error(`the parent did not become ready: ${JSON.stringify(parent.error)}`);

async function bytes(path: string): Promise<Buffer> {
  const r = await fetch(server.url + path);
  if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
  return Buffer.from(await r.arrayBuffer());
}

async function segments(videoId: string, rendition: string): Promise<string[]> {
  const text = (await bytes(`/media/${videoId}/v1/${rendition}/index.m3u8`)).toString();
  return text.split('\n').filter((l) => l.endsWith('.m4s'));
}

/** One picture as 160×90 grey pixels: from the start of `url`, or at `at_s` into it. */
async function picture(url: string, at_s?: number): Promise<Buffer> {
  // Output seeking (decode and drop): ffmpeg 5.1's HLS demuxer cannot seek in fMP4.
  const seek = at_s === undefined ? [] : ['-ss', at_s.toFixed(3)];
  const { stdout } = await run(
    FFMPEG,
    ['-v', 'error', '-i', url, ...seek, '-frames:v', '1', '-vf', 'scale=160:90,format=gray', '-f', 'rawvideo', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 1 << 20 },
  );
  return stdout as unknown as Buffer;
}

function difference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

const clip = await admin.json('POST', `/v1/videos/${parentId}/clips`, { start_s: 4.2, end_s: 11.7, title: 'The middle' });
const clipId: string = clip.body.id;
const ready = await waitForVideo(admin, clipId, undefined, 60_000, 100);
const elapsed = Date.now() - Date.parse(clip.body.created_at);
const snapped = await admin.json('POST', `/v1/videos/${parentId}/clips`, { start_s: 4.2, end_s: 11.7, snap: true });

t.test('the clip has the range, from the right frame', async (t) => {
  t.equal(clip.status, 201, 'a clip is a new video');
  t.equal(clip.body.title, 'The middle');
  t.equal(ready.status, 'ready', `the clip is ready (${elapsed} ms after it was asked for): ${JSON.stringify(ready.error ?? null)}`);
  t.ok(Math.abs(ready.duration_ms - 7500) <= 40, `7.5 s long (${ready.duration_ms} ms)`);
  t.same(ready.renditions.map((r: { name: string }) => r.name).sort(), ['240p', '360p']);
  const first = await picture(`${server.url}/media/${clipId}/v1/360p/index.m3u8`);
  const parentUrl = `${server.url}/media/${parentId}/v1/360p/index.m3u8`;
  const at = difference(first, await picture(parentUrl, 4.2));
  const before = difference(first, await picture(parentUrl, 4.16));
  const after = difference(first, await picture(parentUrl, 4.24));
  t.ok(at < before && at < after, `the parent's frame at 4.2 s (difference ${at.toFixed(2)}; 4.16 s: ${before.toFixed(2)}, 4.24 s: ${after.toFixed(2)})`);
});

t.test('segments inside the range are the parent’s bytes, audio too', async (t) => {
  for (const rendition of ['240p', '360p']) {
    const mine = await segments(clipId, rendition);
    t.equal(mine.length, 4, `${rendition}: a cut head, two whole segments, a cut tail`);
    t.same(await bytes(`/media/${clipId}/v1/${rendition}/${mine[1]}`), await bytes(`/media/${parentId}/v1/${rendition}/seg-00003.m4s`), `${rendition}: 6–8 s`);
    t.same(await bytes(`/media/${clipId}/v1/${rendition}/${mine[2]}`), await bytes(`/media/${parentId}/v1/${rendition}/seg-00004.m4s`), `${rendition}: 8–10 s`);
  }
  const audio = await segments(clipId, 'audio-0');
  t.ok(audio.length >= 4, 'the audio rendition is clipped too');
  const master = (await bytes(`/media/${clipId}/v1/master.m3u8`)).toString();
  t.match(master, /TYPE=AUDIO/, 'the master names the audio');
  const { stderr } = await run(FFMPEG, ['-v', 'info', '-i', `${server.url}/media/${clipId}/v1/master.mpd`, '-map', '0:a:0', '-f', 'null', '-'], { maxBuffer: 1 << 22 });
  const decoded = /time=(\d+):(\d+):([\d.]+)/g;
  let last = 0;
  for (const m of stderr.matchAll(decoded)) last = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  t.ok(Math.abs(last - 7.5) < 0.1, `its audio decodes from the MPD for 7.5 s (${last} s)`);
});

t.test('hls.js and Shaka (DASH) play the clip through to the end in Chromium', async (t) => {
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.route(`${server.url}/__clip.html`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><video muted></video>' }));
  await page.goto(`${server.url}/__clip.html`);
  await page.addScriptTag({ path: join(REPO_ROOT, 'node_modules/hls.js/dist/hls.min.js') });
  await page.addScriptTag({ path: join(REPO_ROOT, 'node_modules/shaka-player/dist/shaka-player.compiled.js') });
  const players = {
    'hls.js': `${server.url}/media/${clipId}/v1/master.m3u8`,
    Shaka: `${server.url}/media/${clipId}/v1/master.mpd`,
  };
  for (const [name, url] of Object.entries(players)) {
    const result = await page.evaluate(
      async ({ name, url }) => {
        const video = document.querySelector('video')!;
        const w = window as any;
        if (name === 'hls.js') {
          const hls = new w.Hls();
          hls.loadSource(url);
          hls.attachMedia(video);
        } else {
          const player = new w.shaka.Player();
          await player.attach(video);
          await player.load(url);
        }
        video.playbackRate = 4;
        video.addEventListener('loadeddata', () => (video.playbackRate = 4));
        await video.play();
        const deadline = Date.now() + 30_000;
        while (!video.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        return { ended: video.ended, duration: video.duration, currentTime: video.currentTime, error: video.error?.code ?? null };
      },
      { name, url },
    );
    t.ok(result.ended, `${name} played to the end (${JSON.stringify(result)})`);
    t.ok(Math.abs(result.duration - 7.5) < 0.15, `${name} shows a 7.5 s clip (${result.duration})`);
    await page.reload();
    await page.addScriptTag({ path: join(REPO_ROOT, 'node_modules/hls.js/dist/hls.min.js') });
    await page.addScriptTag({ path: join(REPO_ROOT, 'node_modules/shaka-player/dist/shaka-player.compiled.js') });
  }
});

t.test('"snap": true takes whole segments only', async (t) => {
  t.equal(snapped.status, 201);
  const video = await waitForVideo(admin, snapped.body.id, undefined, 60_000, 100);
  t.equal(video.status, 'ready');
  t.equal(video.duration_ms, 8000, 'grown to 4 s → 12 s');
  const mine = await segments(snapped.body.id, '360p');
  t.equal(mine.length, 4);
  for (const [i, uri] of mine.entries()) {
    t.same(await bytes(`/media/${snapped.body.id}/v1/360p/${uri}`), await bytes(`/media/${parentId}/v1/360p/seg-0000${i + 2}.m4s`), `segment ${i} is the parent's`);
  }
});

t.test('bad requests', async (t) => {
  for (const body of [{ start_s: 5, end_s: 4 }, { start_s: -1, end_s: 4 }, { start_s: 1, end_s: 25 }, { start_s: 1 }, { start_s: 1, end_s: 2, extra: 1 }]) {
    const r = await admin.json('POST', `/v1/videos/${parentId}/clips`, body);
    t.equal(r.body?.error?.code, 'E_BAD_REQUEST', `${JSON.stringify(body)} is refused`);
  }
  const pending = await admin.json('POST', '/v1/videos', { title: 'not uploaded' });
  const r = await admin.json('POST', `/v1/videos/${pending.body.id}/clips`, { start_s: 0, end_s: 1 });
  t.equal(r.status, 409, 'a video that is not ready cannot be clipped');
  t.equal((await api(server.url, null).json('POST', `/v1/videos/${parentId}/clips`, { start_s: 0, end_s: 1 })).status, 401, 'a token is needed');
});

t.test('deleting the parent keeps the clip playing', async (t) => {
  t.equal((await admin.json('DELETE', `/v1/videos/${parentId}`)).status, 204);
  t.equal((await admin.json('GET', `/v1/videos/${clipId}`)).body.status, 'ready');
  for (const rendition of ['240p', '360p', 'audio-0']) {
    for (const uri of await segments(clipId, rendition)) {
      t.equal((await fetch(`${server.url}/media/${clipId}/v1/${rendition}/${uri}`)).status, 200, `${rendition}/${uri} is still served`);
    }
  }
  const first = await picture(`${server.url}/media/${clipId}/v1/master.m3u8`);
  t.equal(first.length, 160 * 90, 'it still decodes');
});
