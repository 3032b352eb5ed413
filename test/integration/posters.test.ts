/**
 * Poster choice on a ready 6 s video: a frame at a time, an uploaded PNG (re-encoded as a
 * JPEG that fits the top rung), each under a new URL while the old one keeps being served;
 * bad images, oversized ones, other content types and times outside the video are refused.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { FFMPEG, makeClip } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

const run = promisify(execFile);
const MAX_POSTER_BYTES = 200_000;
const dir = await mkdtemp(join(tmpdir(), 'framecast-posters-'));
const server = await startServer({
  config: { limits: { max_poster_bytes: MAX_POSTER_BYTES }, transcode: { ladder: [{ name: '240p', height: 240, video_kbps: 300 }] } },
});
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);
const source = await makeClip(dir, { width: 426, height: 240, seconds: 6, fps: 25 });
const upload = await tusUpload(server.url, source, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'Posters' } });
const video = await waitForVideo(admin, upload.videoId!);
if (video.status !== 'ready') throw new Error(`not ready: ${JSON.stringify(video.error)}`);

async function send(body: Buffer | string, type: string): Promise<{ status: number; body: any }> {
  const r = await fetch(`${server.url}/v1/videos/${video.id}/poster`, { method: 'POST', headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': type }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  return { status: r.status, body: await r.json() };
}

/** A JPEG URL decoded to 64×36 grey pixels (or a frame of the video at `at_s`). */
async function pixels(input: string, at_s?: number): Promise<Buffer> {
  const seek = at_s === undefined ? [] : ['-ss', String(at_s)];
  const { stdout } = await run(FFMPEG, ['-v', 'error', '-i', input, ...seek, '-frames:v', '1', '-vf', 'scale=64:36,format=gray', '-f', 'rawvideo', 'pipe:1'], { encoding: 'buffer' });
  return stdout as unknown as Buffer;
}
const difference = (a: Buffer, b: Buffer) => a.reduce((sum, v, i) => sum + Math.abs(v - b[i]!), 0) / a.length;

t.test('a frame at a time', async (t) => {
  const before = video.playback.poster_url as string;
  const r = await admin.json('POST', `/v1/videos/${video.id}/poster`, { time_s: 4.4 });
  t.equal(r.status, 200);
  const url = r.body.playback.poster_url as string;
  t.not(url, before, 'a new poster URL');
  t.match(url, /\/poster-[0-9a-f]{12}\.jpg$/);
  t.equal((await admin.json('GET', `/v1/videos/${video.id}`)).body.playback.poster_url, url, 'GET /v1/videos/:id shows it');
  const res = await fetch(server.url + url);
  t.equal(res.headers.get('content-type'), 'image/jpeg');
  t.match(res.headers.get('cache-control') ?? '', /immutable/, 'cached for good: the next choice gets another URL');
  const poster = await pixels(server.url + url);
  const media = `${server.url}/media/${video.id}/v1/240p/index.m3u8`;
  const at = difference(poster, await pixels(media, 4.4));
  const elsewhere = difference(poster, await pixels(media, 1.0));
  t.ok(at < elsewhere, `the frame at 4.4 s (difference ${at.toFixed(1)}; at 1 s: ${elsewhere.toFixed(1)})`);
  t.equal((await fetch(server.url + before)).status, 200, 'the old poster URL still answers');
});

t.test('the manifest names the chosen poster; the earlier manifest keeps its own', async (t) => {
  const before = (await admin.json('GET', `/v1/videos/${video.id}`)).body;
  const r = await admin.json('POST', `/v1/videos/${video.id}/poster`, { time_s: 2.2 });
  const poster = r.body.playback.poster_url as string;
  t.not(r.body.playback.manifest_url, before.playback.manifest_url, 'a new manifest URL (the old one is cached for good)');
  const named = (m: { poster_url: string }) => new URL(m.poster_url, server.url).pathname;
  t.equal(named((await admin.json('GET', r.body.playback.manifest_url)).body), poster, 'the manifest the video points at');
  t.equal(named((await admin.json('GET', `/v1/videos/${video.id}/manifest`)).body), poster, 'GET /v1/videos/:id/manifest');
  t.equal(named((await admin.json('GET', before.playback.manifest_url)).body), before.playback.poster_url, 'the earlier manifest is unchanged');
  const master = await fetch(server.url + r.body.playback.hls_url);
  t.equal(master.status, 200, 'the master of the new revision plays');
});

t.test('an uploaded PNG', async (t) => {
  const png = join(dir, 'red.png');
  await run(FFMPEG, ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=red:s=800x400', '-frames:v', '1', png]);
  const r = await send(await readFile(png), 'image/png');
  t.equal(r.status, 200, JSON.stringify(r.body));
  const url = r.body.playback.poster_url as string;
  const file = join(dir, 'poster.jpg');
  await run(FFMPEG, ['-v', 'error', '-i', server.url + url, '-c', 'copy', file]);
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', file]);
  const [codec, width, height] = stdout.trim().split(',');
  t.ok(codec === 'mjpeg' && width === '426' && Math.abs(Number(height) - 213) <= 1, `a JPEG that fits the 426x240 rung, 2:1 kept (${stdout.trim()})`);
  const { stdout: rgb } = await run(FFMPEG, ['-v', 'error', '-i', file, '-vf', 'scale=1:1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer' });
  const [red, green, blue] = rgb as unknown as Buffer;
  t.ok(red! > 200 && green! < 60 && blue! < 60, `it is the red image (${red},${green},${blue})`);
});

t.test('refusals', async (t) => {
  t.equal((await send('this is not a picture at all', 'image/png')).body.error.code, 'E_NOT_MEDIA', 'bytes that are not a PNG');
  const mp4 = await readFile(source);
  t.equal((await send(mp4.subarray(0, 100_000), 'image/jpeg')).body.error.code, 'E_NOT_MEDIA', 'a video sent as a JPEG');
  t.equal((await send(Buffer.alloc(MAX_POSTER_BYTES + 1, 1), 'image/png')).body.error.code, 'E_TOO_LARGE', 'over limits.max_poster_bytes');
  t.equal((await send('GIF89a', 'image/gif')).body.error.code, 'E_BAD_REQUEST', 'another image type');
  t.equal((await admin.json('POST', `/v1/videos/${video.id}/poster`, { time_s: 60 })).body.error.code, 'E_BAD_REQUEST', 'a time after the end');
  t.equal((await api(server.url, null).json('POST', `/v1/videos/${video.id}/poster`, { time_s: 1 })).status, 401, 'a token is needed');
});
