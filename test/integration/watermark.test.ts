/**
 * The watermark: a white square (PNG) burned into a black video. Every rung of every video
 * has it at the configured corner with its size relative to the rung; a video may move it or
 * turn it off; a clip's re-encoded edges carry it too; a client cannot name an image; a file
 * that is not an image stops the node at start-up.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { stringify } from 'yaml';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { FFMPEG } from '../helpers/media-fixtures.js';
import { pushRtmp, sleep, waitForLive } from '../helpers/live.js';
import { startRunner } from '../helpers/runner.js';
import { freePort, runRefusedStart, startServer } from '../helpers/server.js';

const run = promisify(execFile);
const dir = await mkdtemp(join(tmpdir(), 'framecast-watermark-'));
const mark = join(dir, 'mark.png');
await run(FFMPEG, ['-v', 'error', '-f', 'lavfi', '-i', 'color=white:size=64x64', '-frames:v', '1', mark]);
const source = join(dir, 'black.mp4');
await run(FFMPEG, ['-v', 'error', '-f', 'lavfi', '-i', 'color=black:size=640x360:rate=25:duration=4', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', source]);

const SCALE = 0.2;
const MARGIN = 0.05;
const config = {
  transcode: {
    ladder: [
      { name: '240p', height: 240, video_kbps: 400 },
      { name: '360p', height: 360, video_kbps: 800 },
    ],
    watermark: { image: mark, corner: 'top-right', margin: MARGIN, opacity: 1, scale: SCALE },
  },
};
let server = await startServer({ config });
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
let admin = api(server.url, server.adminToken);

/** Uploads the black source into a new video created with `fields`; the ready video. */
async function readyVideo(fields: Record<string, unknown>): Promise<any> {
  const created = await admin.json('POST', '/v1/videos', { title: 'Marked', ...fields });
  if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.body)}`);
  await tusUpload(server.url, source, { token: server.adminToken, metadata: { filename: 'black.mp4', video_id: created.body.id } });
  const video = await waitForVideo(admin, created.body.id, undefined, 240_000);
  if (video.status !== 'ready') throw new Error(`not ready: ${JSON.stringify(video.error)}`);
  return video;
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Bright pixels found. */
  bright: number;
}

/** The bright pixels (grey > 128) of the frame at 1 s of a rendition: their bounding box and count. */
async function brightBox(videoId: string, version: number, rung: { name: string; width: number; height: number }): Promise<Box> {
  return brightBoxOf(`${server.url}/media/${videoId}/v${version}/${rung.name}/index.m3u8`, rung, 1);
}

async function brightBoxOf(input: string, rung: { name: string; width: number; height: number }, at_s: number): Promise<Box> {
  const { stdout } = await run(FFMPEG, ['-v', 'error', '-i', input, '-ss', String(at_s), '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], {
    encoding: 'buffer',
    maxBuffer: 16 * 1024 * 1024,
  });
  const pixels = stdout as unknown as Buffer;
  if (pixels.length !== rung.width * rung.height) throw new Error(`${rung.name}: ${pixels.length} bytes for ${rung.width}x${rung.height}`);
  let [x0, y0, x1, y1, bright] = [Infinity, Infinity, -1, -1, 0];
  for (let y = 0; y < rung.height; y++) {
    for (let x = 0; x < rung.width; x++) {
      if (pixels[y * rung.width + x]! <= 128) continue;
      bright++;
      [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    }
  }
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1, bright };
}

/** Checks the white square on every rung of a video. */
async function expectMark(t: Test, video: any, corner: string, version = video.version): Promise<void> {
  t.ok(video.renditions.length >= 2, 'every rung is checked');
  for (const rung of video.renditions as { name: string; width: number; height: number }[]) {
    expectBox(t, rung, await brightBox(video.id, version, rung), corner);
  }
}

/** The white square seen on `rung`: at `corner`, SCALE of the rung's width, MARGIN of its height away. */
function expectBox(t: Test, rung: { name: string; width: number; height: number }, box: Box, corner: string): void {
  const side = rung.width * SCALE;
  const margin = rung.height * MARGIN;
  const x = corner.endsWith('right') ? rung.width - side - margin : margin;
  const y = corner.startsWith('bottom') ? rung.height - side - margin : margin;
  const near = (a: number, b: number) => Math.abs(a - b) <= 3;
  t.ok(near(box.x, x) && near(box.y, y), `${rung.name}: the mark's corner at ${box.x},${box.y} (expected ~${x.toFixed(0)},${y.toFixed(0)}: ${corner})`);
  t.ok(near(box.width, side) && near(box.height, side), `${rung.name}: ${box.width}x${box.height} (expected ~${side.toFixed(0)} square)`);
  // A solid square and nothing bright elsewhere (else the bounding box would have grown).
  t.ok(box.bright >= box.width * box.height * 0.9, `${rung.name}: the square is solid (${box.bright} bright pixels)`);
}

t.test('every rung carries the configured mark at its size', async (t) => {
  const video = await readyVideo({});
  t.equal(video.watermark, null, 'no override: the configured mark');
  await expectMark(t, video, 'top-right');

  t.test("a clip's re-encoded edges carry the mark too", async (t) => {
    // 1–3 s of a video cut in 2 s segments: both pieces are re-encoded edges.
    const r = await admin.json('POST', `/v1/videos/${video.id}/clips`, { start_s: 1, end_s: 3 });
    t.equal(r.status, 201);
    const clip = await waitForVideo(admin, r.body.id);
    t.equal(clip.status, 'ready');
    await expectMark(t, clip, 'top-right');
    const patched = await admin.json('PATCH', `/v1/videos/${clip.id}`, { watermark: false });
    t.equal(patched.status, 409, 'a clip is never encoded, so it takes no override');
  });
});

t.test('a video can move its mark or turn it off', async (t) => {
  const moved = await readyVideo({ watermark: { corner: 'bottom-left' } });
  t.same(moved.watermark, { corner: 'bottom-left' });
  await expectMark(t, moved, 'bottom-left');

  const off = await readyVideo({ watermark: false });
  for (const rung of off.renditions) t.equal((await brightBox(off.id, off.version, rung)).bright, 0, `${rung.name}: no mark`);

  // PATCH then reprocess: the next encode follows the override.
  t.equal((await admin.json('PATCH', `/v1/videos/${off.id}`, { watermark: null })).body.watermark, null);
  t.equal((await admin.json('POST', `/v1/videos/${off.id}/reprocess`)).status, 202);
  const again = await waitForVideo(admin, off.id, (v) => v.version === 2 && v.status === 'ready' && !v.progress);
  await expectMark(t, again, 'top-right', 2);
});

t.test('a client cannot name the image or set a bad placement', async (t) => {
  const video = await admin.json('POST', '/v1/videos', { title: 'No paths' });
  for (const watermark of [{ image: '/etc/passwd' }, { corner: 'middle' }, { opacity: 2 }, true]) {
    const r = await admin.json('PATCH', `/v1/videos/${video.body.id}`, { watermark });
    t.equal(r.status, 400, `${JSON.stringify(watermark)} refused`);
    t.equal(r.body.error.code, 'E_BAD_REQUEST');
  }
  t.equal((await admin.json('POST', '/v1/videos', { title: 'x', watermark: { image: mark } })).status, 400, 'not on creation either');
});

t.test('a live carries the mark on every rung (none is copied)', async (t) => {
  const flv = join(dir, 'black.flv');
  await run(FFMPEG, [
    '-v', 'error', '-f', 'lavfi', '-i', 'color=black:size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000', '-t', '6',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'high', '-pix_fmt', 'yuv420p', '-g', '60', '-b:v', '300k', '-c:a', 'aac', '-f', 'flv', flv,
  ]);
  const live = (await admin.json('POST', '/v1/live', { title: 'Marked live', record: false })).body;
  const push = pushRtmp(live.rtmp_url, live.stream_key, flv);
  t.teardown(() => push.stop());
  const info = await waitForLive(admin, live.id, (l) => l.renditions.length === 2);
  t.same(info.renditions.map((r: { passthrough: boolean }) => r.passthrough), [false, false], 'both rungs encoded');
  const base = `${server.url}/live/${live.id}/`;
  for (const rung of info.renditions as { name: string; width: number; height: number }[]) {
    // The first whole segment (the parts before it are listed as #EXT-X-PART).
    const firstSegment = (text: string) => text.split('\n').find((line) => !line.startsWith('#') && line.endsWith('.m4s'));
    let playlist = '';
    for (let i = 0; i < 150 && !firstSegment(playlist); i++) {
      playlist = await (await fetch(`${base}${rung.name}/index.m3u8`)).text();
      if (!firstSegment(playlist)) await sleep(200);
    }
    const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)?.[1];
    const segment = firstSegment(playlist);
    if (!init || !segment) throw new Error(`${rung.name}: no segment in ${playlist}`);
    const file = join(dir, `live-${rung.name}.mp4`);
    const parts = await Promise.all([init, segment].map(async (uri) => Buffer.from(await (await fetch(`${base}${rung.name}/${uri}`)).arrayBuffer())));
    await writeFile(file, Buffer.concat(parts));
    expectBox(t, rung, await brightBoxOf(file, rung, 0.5), 'top-right');
  }
});

t.test('a remote runner burns in the same mark (the node sends the image with the job)', async (t) => {
  await server.stop();
  server = await startServer({ config, env: { FRAMECAST_ROLES: 'api' } });
  admin = api(server.url, server.adminToken);
  const registration = await admin.json('POST', '/v1/runners/tokens');
  const runner = await startRunner(server.url, registration.body.token, 'marker');
  t.teardown(() => runner.stop());
  const video = await readyVideo({ watermark: { corner: 'bottom-right' } });
  t.match(server.logs(), /job succeeded on a remote runner/);
  await expectMark(t, video, 'bottom-right');
});

t.test('a watermark file that is not an image stops the node at start-up, naming it', async (t) => {
  const notImage = join(dir, 'logo.png');
  await writeFile(notImage, 'this is text, not a PNG\n');
  const config = join(dir, 'bad-watermark.yaml');
  await writeFile(config, stringify({ transcode: { watermark: { image: notImage } } }));
  const { code, output } = await runRefusedStart({
    FRAMECAST_CONFIG: config,
    FRAMECAST_HTTP_HOST: '127.0.0.1',
    FRAMECAST_HTTP_PORT: String(await freePort()),
    FRAMECAST_DATA_DIR: join(dir, 'refused-node'),
    FRAMECAST_ADMIN_TOKEN: 'x'.repeat(24),
  }, { timeoutMs: 180_000 });
  t.equal(code, 78, 'refused (exit 78: do not restart)');
  t.match(output, `transcode.watermark.image: ${notImage} is not a PNG or JPEG image`);
});
