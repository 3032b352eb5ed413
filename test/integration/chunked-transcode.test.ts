/**
 * Segment-parallel transcoding on one node (SQLite, fs storage, two local workers): a source
 * longer than `transcode.chunk_min_s` (here a 24 s clip, chunks of 8 s) is cut into three
 * video chunks and an audio part that run as separate jobs, then joined by vod.finish. The
 * published version has continuous timestamps in every rung and the audio, one init per rung
 * that decodes every frame, the source's frame count and duration, no segment above its
 * rung's maxrate, the single pass's loudness and storyboard, and hls.js plays it through the
 * chunk joins in Chromium. It is playable (instant publish) once the audio and chunk 0 are
 * done. (Remote runners: chunked-runners.test.ts.)
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { launchBrowser } from '../helpers/browser.js';
import { CHUNKED_CONFIG, CHUNKED_LADDER, checkChunkedVersion, makeChunkableSource } from '../helpers/chunked-checks.js';
import { FFMPEG } from '../helpers/media-fixtures.js';
import { REPO_ROOT, startServer } from '../helpers/server.js';

const run = promisify(execFile);

/** Integrated loudness of a file's audio as ebur128 measures it on its own. */
async function sourceLoudness(file: string): Promise<number> {
  const { stderr } = await run(FFMPEG, ['-hide_banner', '-i', file, '-map', '0:a:0', '-af', 'aresample=48000,ebur128', '-f', 'null', '-'], { maxBuffer: 1 << 24 });
  return Number(/Summary:[\s\S]*?I:\s*(-?[\d.]+) LUFS/.exec(stderr)![1]);
}

/** PSNR (dB, luma and chroma) of a sheet's tile against the source's picture at `atS`, scaled to the tile. */
async function tilePsnr(sheet: string, crop: string, file: string, atS: number): Promise<number> {
  const { stderr } = await run(FFMPEG, [
    '-hide_banner', '-i', sheet, '-ss', String(atS), '-i', file,
    '-filter_complex', `[0:v]${crop},format=yuv420p[a];[1:v]scale=${/crop=(\d+):(\d+)/.exec(crop)!.slice(1).join(':')},setsar=1,format=yuv420p[b];[a][b]psnr`,
    '-frames:v', '1', '-f', 'null', '-',
  ]);
  return Number(/PSNR .*average:([\d.]+|inf)/.exec(stderr)![1]);
}

const dir = await mkdtemp(join(tmpdir(), 'framecast-chunked-'));
const source = await makeChunkableSource(dir);
// Storyboard tiles of 3 s: chunks start at 8 and 16 s, inside a tile's interval (its tile is the chunk before's).
const STORYBOARD = { interval_s: 3, tile_width: 160, columns: 10, rows: 10 };
const server = await startServer({ config: { ...CHUNKED_CONFIG, transcode: { ...CHUNKED_CONFIG.transcode, concurrency: 2, storyboard: STORYBOARD } } });
t.teardown(() => server.stop());
const admin = api(server.url, server.adminToken);
const videoId = (await tusUpload(server.url, source, { token: server.adminToken })).videoId!;
const video = await waitForVideo(admin, videoId, undefined, 600_000);

t.test('a long source is transcoded as chunks and an audio part on the local workers, then joined', async (t) => {
  t.equal(video.status, 'ready', JSON.stringify(video.error));
  const jobs = ((await admin.json('GET', '/v1/jobs?limit=50')).body.items as any[]).filter((j) => j.video_id === videoId);
  const count = (type: string) => jobs.filter((j) => j.type === type && j.status === 'succeeded').length;
  t.equal(count('vod.chunk'), 4, 'three video chunks and the audio part, each its own job');
  t.equal(count('vod.finish'), 1, 'one finish job');
  t.match(server.logs(), /"chunks":3[^\n]*long source: transcoding in chunks/);
  const logs = server.logs();
  const playable = logs.indexOf('playable while processing (instant publish)');
  t.ok(playable >= 0 && playable < logs.indexOf('chunks joined'), 'playable from staging (audio part and chunk 0 done) before the chunks were joined');
});

t.test('every rung and the audio are continuous across the joins, frame-exact, within maxrate', async (t) => {
  await checkChunkedVersion(t, new URL(video.playback.hls_url, server.url).href, {
    frames: 720,
    seconds: 24,
    videoKbps: Object.fromEntries(CHUNKED_LADDER.map((r) => [r.name, r.video_kbps])),
  });
  t.equal(video.duration_ms, 24000);
});

t.test('loudness and storyboard come out as from one pass', async (t) => {
  const manifest = await (await fetch(new URL(video.playback.hls_url.replace('master.m3u8', 'manifest.json'), server.url))).json();
  t.ok(Math.abs(manifest.loudness - (await sourceLoudness(source))) < 0.2, `loudness ${manifest.loudness} LUFS, as the whole source measures`);
  const vttUrl = new URL(video.thumbnail_vtt_url ?? video.playback.thumbnail_vtt_url, server.url);
  const vtt = await (await fetch(vttUrl)).text();
  const cues = [...vtt.matchAll(/(\d\d):(\d\d):(\d\d\.\d{3}) --> \S+\n(sprite-\d+\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)/g)];
  t.equal(cues.length, 8, 'one storyboard tile per 3 s over the whole video');
  t.match(vtt, /00:00:21\.000 --> 00:00:24\.000/, 'the last tile ends with the video');
  // Each tile (laid out in its sheet by vod.finish from the chunk that holds its first frame)
  // is the source's picture at its cue's start: closer to it than to the picture 1 s later.
  const sheet = join(dir, 'sprite-0.jpg');
  await writeFile(sheet, Buffer.from(await (await fetch(new URL(cues[0]![4]!, vttUrl))).arrayBuffer()));
  for (const cue of cues) {
    const [h, m, sec, , x, y, w, hh] = cue.slice(1).map((v, i) => (i === 3 ? 0 : Number(v)));
    const at = h! * 3600 + m! * 60 + sec!;
    const crop = `crop=${w}:${hh}:${x}:${y}`;
    const same = await tilePsnr(sheet, crop, source, at);
    const later = await tilePsnr(sheet, crop, source, at + 1);
    t.ok(same > later + 3 && same > 20, `tile at ${at} s shows the source at ${at} s (PSNR ${same.toFixed(1)} dB; 1 s later: ${later.toFixed(1)} dB)`);
  }
  t.equal((await fetch(new URL(video.playback.hls_url.replace('master.m3u8', 'poster.jpg'), server.url))).status, 200, 'a poster');
});

t.test('hls.js plays through the chunk joins to the end in Chromium', async (t) => {
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.route(`${server.url}/__chunked.html`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><video muted></video>' }));
  await page.goto(`${server.url}/__chunked.html`);
  await page.addScriptTag({ path: join(REPO_ROOT, 'node_modules/hls.js/dist/hls.min.js') });
  const result = await page.evaluate(async (url) => {
    const media = document.querySelector('video')!;
    const hls = new (window as any).Hls();
    const errors: string[] = [];
    hls.on('hlsError', (_: unknown, data: any) => errors.push(`${data.details}${data.fatal ? ' (fatal)' : ''}`));
    hls.loadSource(url);
    hls.attachMedia(media);
    media.addEventListener('loadeddata', () => (media.playbackRate = 4));
    await media.play();
    const deadline = Date.now() + 60_000;
    while (!media.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    return { ended: media.ended, duration: media.duration, currentTime: media.currentTime, errors };
  }, new URL(video.playback.hls_url, server.url).href);
  t.ok(result.ended, `played to the end (${JSON.stringify(result)})`);
  t.ok(Math.abs(result.duration - 24) < 0.1, `a 24 s video (${result.duration})`);
  t.same(result.errors.filter((e) => e.includes('fatal')), [], 'no fatal player error');
});
