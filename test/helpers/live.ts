/**
 * Live test helpers: an OBS-like RTMP publisher (ffmpeg pushing FLV with H.264 High + AAC,
 * 2 s keyframes, at real-time speed with `-re`) and small playlist readers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, type Api } from './api.js';
import { FFMPEG } from './media-fixtures.js';
import { startServer, type TestServer } from './server.js';

export interface IngestClipOptions {
  seconds: number;
  width?: number;
  height?: number;
  fps?: number;
  videoKbps?: number;
  /**
   * Seconds between keyframes as the FLV carries them (whole milliseconds), e.g. 1.999 as
   * OBS sends its "2 s" keyframes: 60 frames at 60/1.999 fps. Default: 2 s at `fps`.
   */
  keyframeSeconds?: number;
}

/** Encodes an FLV like OBS sends (H.264 High, keyframe every 2 s, AAC 48 kHz) once, to push with `-c copy`. */
export async function makeIngestClip(dir: string, opts: IngestClipOptions): Promise<string> {
  const { seconds, width = 640, height = 360, fps = 30, videoKbps = 800, keyframeSeconds } = opts;
  const file = join(dir, `ingest-${width}x${height}-${seconds}s${keyframeSeconds ? `-k${keyframeSeconds}` : ''}.flv`);
  const rate = keyframeSeconds ? `${fps * 2 * 1000}/${Math.round(keyframeSeconds * 1000)}` : String(fps);
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${rate}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-pix_fmt', 'yuv420p',
    '-g', String(fps * 2), '-keyint_min', String(fps * 2), '-sc_threshold', '0',
    '-b:v', `${videoKbps}k`, '-maxrate', `${videoKbps}k`, '-bufsize', `${videoKbps * 2}k`,
    '-c:a', 'aac', '-b:a', '96k', '-ar', '48000', '-ac', '2',
    '-f', 'flv', file,
  ];
  await new Promise<void>((resolve, reject) => {
    const p = spawn(FFMPEG, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}: ${err}`))));
  });
  return file;
}

export interface Push {
  child: ChildProcess;
  /** Resolves with ffmpeg's exit code (non-zero when the server refused or dropped it). */
  exited: Promise<number | null>;
  stderr(): string;
  stop(): Promise<void>;
}

/** Publishes `file` to `rtmpUrl/key` at real-time speed, as an encoder would. */
export function pushRtmp(rtmpUrl: string, key: string, file: string, opts: { seconds?: number } = {}): Push {
  return push(['-re', '-i', file, ...(opts.seconds ? ['-t', String(opts.seconds)] : []), '-c', 'copy', '-f', 'flv', `${rtmpUrl}/${key}`]);
}

/** Publishes `file` by SRT (MPEG-TS, as OBS's SRT output) to `srtUrl?streamid=key` at real-time speed. */
export function pushSrt(srtUrl: string, key: string, file: string, opts: { latencyMs?: number; passphrase?: string } = {}): Push {
  const query = new URLSearchParams({ streamid: key, ...(opts.latencyMs ? { latency: String(opts.latencyMs * 1000) } : {}), ...(opts.passphrase ? { passphrase: opts.passphrase } : {}) });
  return push(['-re', '-i', file, '-c', 'copy', '-f', 'mpegts', `${srtUrl}?${query}`]);
}

function push(args: string[]): Push {
  const child = spawn(FFMPEG, ['-hide_banner', '-loglevel', 'error', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The media playlist's segments (URIs) and tags, parsed loosely. */
export function parseLivePlaylist(text: string): { mediaSequence: number; segments: string[]; discontinuities: number; ended: boolean } {
  const lines = text.split('\n').map((l) => l.trim());
  const seq = lines.find((l) => l.startsWith('#EXT-X-MEDIA-SEQUENCE:'));
  return {
    mediaSequence: seq ? Number(seq.split(':')[1]) : 0,
    segments: lines.filter((l) => l && !l.startsWith('#')),
    discontinuities: lines.filter((l) => l === '#EXT-X-DISCONTINUITY').length,
    ended: lines.includes('#EXT-X-ENDLIST'),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls GET /v1/live/:id until `until` says yes. */
export async function waitForLive(a: Api, id: string, until: (live: any) => boolean, timeoutMs = 90_000, everyMs = 200): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    last = (await a.json('GET', `/v1/live/${id}`)).body;
    if (until(last)) return last;
    await sleep(everyMs);
  }
  throw new Error(`live ${id} did not reach the expected state: ${JSON.stringify(last)}`);
}

export interface LiveFixture {
  server: TestServer;
  admin: Api;
  /** Scratch directory (removed at teardown). */
  dir: string;
  /** A 640x360 OBS-like FLV to push (9 s unless asked otherwise). */
  clip: string;
}

export interface LiveFixtureOptions {
  /** More `live.*` config keys. */
  live?: Record<string, unknown>;
  env?: Record<string, string>;
  /** Length of the clip (default 9 s). */
  clipSeconds?: number;
}

/** A node for live tests (ultrafast live preset, the given reconnect window) and a clip to push. */
export async function liveFixture(t: { teardown(fn: () => Promise<void>): void }, reconnectWindowS: number, opts: LiveFixtureOptions = {}): Promise<LiveFixture> {
  const server = await startServer({
    config: { live: { reconnect_window_s: reconnectWindowS, preset: 'ultrafast', ...opts.live } },
    ...(opts.env ? { env: opts.env } : {}),
  });
  const dir = await mkdtemp(join(tmpdir(), 'framecast-live-'));
  t.teardown(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const clip = await makeIngestClip(dir, { seconds: opts.clipSeconds ?? 9, width: 640, height: 360 });
  return { server, admin: api(server.url, server.adminToken), dir, clip };
}
