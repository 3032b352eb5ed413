/**
 * Clips benchmark: a 5-minute clip of a 10-minute video, Framecast's clip against
 * re-encoding the same range with the same ladder (one plain ffmpeg), in the same run.
 *
 *   npm run bench:clips [-- --minutes 10 --clip-minutes 5 --height 720]
 *
 * Source: testsrc2 + sine, 16:9 at `--height` (default 720: the default ladder's 240p–720p
 * rungs) and 25 fps, encoded once to H.264/AAC mp4.
 * Framecast: a real node (production job settings and preset veryfast), the source uploaded
 * and processed first (not measured); then POST /v1/videos/:id/clips from the 2.5th minute,
 * and GET /v1/videos/:id every 50 ms: wall = request sent → status ready. Measured cut at a
 * frame inside a segment (re-encoded edges) and with "snap": true.
 * Reference: ffmpeg -ss/-t over the same range, every rung of the default ladder for this
 * source (config/default.yaml through buildLadder, as the node made them) scaled from one
 * decode, x264 veryfast with the ladder's GOP and bit rates, AAC, CMAF HLS of 2 s segments:
 * wall around the child.
 * Target: the clip within 5 % of the reference's wall time.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { buildLadder } from '../core/media/ladder.js';
import { api } from '../test/helpers/api.js';
import { startServer } from '../test/helpers/server.js';
import { waitForQuietMachine } from './proc-stats.js';
import { fmt, markdownTable, verdict, writeResults } from './report.js';
import { uploadFile } from './tus-file-upload.js';

const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
const TARGET_RATIO = 0.05;
const FPS = 25;

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '10' }, 'clip-minutes': { type: 'string', default: '5' }, height: { type: 'string', default: '720' }, source: { type: 'string' } },
});
const minutes = Number(values.minutes);
const clipMinutes = Number(values['clip-minutes']);
const height = Number(values.height);
const width = Math.round((height * 16) / 9 / 2) * 2;
// The rungs the node makes of this source with the default configuration.
const ladder = buildLadder({ width, height }, loadConfig({ env: {} }).transcode.ladder);

function ffmpeg(args: string[]): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(FFMPEG, ['-hide_banner', '-v', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(Date.now() - started) : reject(new Error(`ffmpeg exited with ${code}`))));
  });
}

const dir = await mkdtemp(join(tmpdir(), 'framecast-bench-clips-'));
const source = values.source ?? join(dir, 'source.mp4');
console.log(values.source ? `source: ${source}` : `making a ${minutes}-minute ${width}x${height} source…`);
console.log(`ladder: ${ladder.map((r) => `${r.name} ${r.video_kbps}k`).join(', ')}`);
if (!values.source) await ffmpeg([
  '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${FPS}`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
  '-t', String(minutes * 60), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k', source,
]);

/** A node on a busy machine may miss the helper's start-up deadline: try again. */
async function startNode(attempts = 3): Promise<Awaited<ReturnType<typeof startServer>>> {
  try {
    return await startServer({ config: { transcode: { preset: 'veryfast' }, jobs: { poll_interval_ms: 500, backoff_base_s: 5, lease_s: 30 } } });
  } catch (err) {
    if (attempts <= 1) throw err;
    console.log('the node did not start in time; again');
    return startNode(attempts - 1);
  }
}
const server = await startNode();
try {
  const admin = api(server.url, server.adminToken);
  const waitReady = async (id: string, intervalMs: number): Promise<any> => {
    for (;;) {
      // A poll cut by the node (a connection closed under load) is one poll lost, not the run.
      const v = await admin.json('GET', `/v1/videos/${id}`).then(
        (r) => r.body,
        (err: Error) => (console.log(`poll failed (${err.message}: ${String((err.cause as Error | undefined)?.message ?? '')}); again`), {}),
      );
      if (v.status === 'ready') return v;
      if (v.status === 'failed') throw new Error(`video ${id} failed: ${JSON.stringify(v.error)}`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  };
  console.log('uploading and processing the source (not measured)…');
  const upload = await uploadFile(`${server.url}/v1/uploads`, source, {
    headers: { authorization: `Bearer ${server.adminToken}` },
    metadata: { filename: 'source.mp4', title: 'bench clips' },
  });
  await waitReady(upload.videoId!, 500);

  const start_s = (minutes - clipMinutes) / 2 * 60 + 0.52; // a frame inside a segment
  const end_s = start_s + clipMinutes * 60;
  const clip = async (snap: boolean): Promise<{ wall_ms: number; duration_ms: number }> => {
    const quiet = await waitForQuietMachine(0.3, 30_000);
    const started = Date.now();
    const r = await admin.json('POST', `/v1/videos/${upload.videoId}/clips`, { start_s, end_s, snap });
    if (r.status !== 201) throw new Error(`clip refused: ${JSON.stringify(r.body)}`);
    const ready = await waitReady(r.body.id, 50);
    const wall_ms = Date.now() - started;
    console.log(`clip (snap ${snap}): ${wall_ms} ms, ${ready.duration_ms} ms of video (other load before: ${quiet.toFixed(2)} cores)`);
    return { wall_ms, duration_ms: ready.duration_ms };
  };
  const cut = await clip(false);
  const snapped = await clip(true);

  const quiet = await waitForQuietMachine(0.3, 30_000);
  const out = join(dir, 'reference');
  await mkdir(out, { recursive: true });
  const referenceMs = await ffmpeg([
    '-ss', String(start_s), '-t', String(end_s - start_s), '-i', source,
    '-filter_complex', `[0:v]split=${ladder.length}${ladder.map((_, i) => `[s${i}]`).join('')};${ladder.map((r, i) => `[s${i}]scale=${r.width}:${r.height},setsar=1,format=yuv420p[v${i}]`).join(';')}`,
    ...ladder.flatMap((_, i) => ['-map', `[v${i}]`]), '-map', '0:a:0',
    '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-g', String(2 * FPS), '-keyint_min', String(2 * FPS),
    '-sc_threshold', '0', '-flags', '+cgop', '-x264-params', 'open_gop=0:scenecut=0', '-force_key_frames', 'expr:gte(t,n_forced*2)',
    ...ladder.flatMap((r, i) => [`-b:v:${i}`, `${r.video_kbps}k`, `-maxrate:v:${i}`, `${Math.round(r.video_kbps * 1.1)}k`, `-bufsize:v:${i}`, `${r.video_kbps * 2}k`]),
    '-c:a', 'aac', '-b:a', '128k', '-ar', '48000',
    '-f', 'hls', '-hls_time', '2', '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4',
    '-var_stream_map', `${ladder.map((_, i) => `v:${i},agroup:aud`).join(' ')} a:0,agroup:aud`, '-master_pl_name', 'master.m3u8',
    '-hls_segment_filename', join(out, '%v', 'seg-%05d.m4s'), join(out, '%v', 'index.m3u8'),
  ]);
  console.log(`reference re-encode: ${referenceMs} ms (other load before: ${quiet.toFixed(2)} cores)`);

  const rows = [
    ['clip, cut inside segments', fmt(referenceMs / 1000), fmt(cut.wall_ms / 1000), fmt(cut.wall_ms / referenceMs, 3), `≤ ${TARGET_RATIO}`, verdict(cut.wall_ms / referenceMs, TARGET_RATIO, 'max')],
    ['clip, "snap": true', fmt(referenceMs / 1000), fmt(snapped.wall_ms / 1000), fmt(snapped.wall_ms / referenceMs, 3), `≤ ${TARGET_RATIO}`, verdict(snapped.wall_ms / referenceMs, TARGET_RATIO, 'max')],
  ];
  console.log(markdownTable(['wall time (s)', 'ffmpeg re-encode', 'Framecast clip', 'ratio', 'target', ''], rows));
  const file = await writeResults('clips', { minutes, clipMinutes, height, ladder: ladder.map((r) => r.name), start_s, end_s, reference_ms: referenceMs, cut, snapped, target_ratio: TARGET_RATIO });
  console.log(`results: ${file}`);
} finally {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
