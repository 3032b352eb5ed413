/**
 * Live benchmark: Framecast's live path against ffmpeg listening for RTMP itself and writing
 * the same ladder, on the same machine, in the same run.
 *
 *   node --import tsx bench/live.ts [-- --runs 3 --max-lives 4]
 *
 * Ingest: testsrc2 + sine 1280x720p30, H.264 High at 2500 kbps with a keyframe every 2 s
 * and AAC (as OBS sends), encoded once and pushed with `ffmpeg -re -c copy -f flv`.
 * The ladder is the default one capped at 720p: 240p/360p/480p encoded, 720p copied.
 *
 * 1. First playable (push start → a master whose every rendition lists a segment):
 *    (the `ffmpeg -listen 1` HLS-muxer baseline went with the HLS muxer: the packager now
 *    cuts LL-HLS parts itself from ffmpeg's fragmented MP4; bench/live-latency.ts measures
 *    glass to glass);
 *    - packager fed in-process (our default) and packager pulling the local NMS relay with
 *      `-rw_timeout` (the alternative), each in a bare harness: NMS + LivePackager + the fs
 *      object store, no HTTP;
 *    - the real node: the same through POST /v1/live and the HTTP origin.
 * 2. Frame-to-playlist (real node, 30 s push): when segment k appears in the slowest
 *    (top encoded) rung's playlist over HTTP, minus when its first frame was pushed
 *    (push start + 2k s). The push start is the spawn of the pushing ffmpeg, so the figures
 *    are an upper bound. Target: ≤ segment duration + 1 s.
 * 3. Capacity: N simultaneous 720p lives for 20 s; N is sustained when every live kept
 *    its full ladder (no rung dropped for lag) and produced every segment.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../core/logger.js';
import createFsStore from '../storage-adapters/objects/fs.js';
import type { IngestPublisher } from '../core/live/ingest.js';
import { connectionLimits, RtmpIngest } from '../live/ingest-rtmp.js';
import type { LiveRung } from '../live/live-command.js';
import { firstLiveLadder } from '../live/live-ladder.js';
import { LivePackager } from '../live/live-packager.js';
import { api } from '../test/helpers/api.js';
import { makeIngestClip, parseLivePlaylist, pushRtmp, sleep } from '../test/helpers/live.js';
import { freePort, startServer } from '../test/helpers/server.js';
import { fmt, markdownTable, median, verdict, writeResults } from './report.js';

const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
const SEGMENT_S = 2;
/** The shipped defaults (config/default.yaml): ladder and live settings as a user gets them. */
const DEFAULTS = loadConfig({ env: {} });
const INGEST = { width: 1280, height: 720, fps: 30, videoKbps: 2500, videoCodecId: 7, audioCodecId: 10 };

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'max-lives': { type: 'string', default: '8' },
    // Capacity with LL-HLS parts (live.part_s 0.5, the default) and with one part per 2 s
    // segment (2: what a player sees without LL-HLS), on separate nodes, in the same run.
    'part-s': { type: 'string', default: '0.5,2' },
    'capacity-only': { type: 'boolean', default: false },
  },
});
const RUNS = Number(opts.runs);
const MAX_LIVES = Number(opts['max-lives']);
const PART_S = opts['part-s'].split(',').map(Number);

const work = await mkdtemp(join(tmpdir(), 'framecast-bench-live-'));
const clip = await makeIngestClip(work, { seconds: 30, width: 1280, height: 720, fps: 30, videoKbps: 2500 });
const ladder: LiveRung[] = firstLiveLadder(INGEST, DEFAULTS.transcode.ladder, DEFAULTS.live.passthrough_max_ratio);
const logger = createLogger('warn');

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(everyMs);
  }
}

async function everyRenditionHasASegment(dirOf: (name: string) => Promise<string | undefined>): Promise<true | undefined> {
  for (const name of [...ladder.map((r) => r.name), 'audio']) {
    const text = await dirOf(name);
    if (!text || parseLivePlaylist(text).segments.length === 0) return undefined;
  }
  return true;
}

/** NMS + LivePackager + fs store, no HTTP: the packager fed in-process or pulling the relay. */
async function harnessFirstPlayable(mode: 'pipe' | 'rtmp'): Promise<number> {
  const port = await freePort();
  const root = join(work, `harness-${mode}-${port}`);
  const store = await createFsStore(pathToFileURL(join(root, 'objects')), { dataDir: root });
  const packager = new LivePackager({
    liveId: 'benchlive000', store, workDir: join(root, 'live'), ffmpegPath: FFMPEG, encoder: 'libx264', segmentSeconds: SEGMENT_S,
    partSeconds: DEFAULTS.live.part_s, window: 6, preset: 'veryfast', audioKbps: 128, record: true, maxLagMs: 60_000, logger,
  });
  let started: Promise<unknown> | undefined;
  const ingest = new RtmpIngest({
    port, host: '127.0.0.1', logger, badKeyLimit: 100, limits: connectionLimits(DEFAULTS.live),
    handler: {
      admit: async () => true,
      published(pub: IngestPublisher) {
        const spec = { ladder, hasAudio: true, fps: 30, ingestKbps: 2500 };
        if (mode === 'rtmp') {
          started = packager.startRun({ ...spec, input: { kind: 'rtmp', url: `rtmp://127.0.0.1:${port}/live/${pub.key}`, readTimeoutMs: 5000 } }, () => undefined);
          return;
        }
        const pending: Buffer[] = [];
        let write: ((b: Buffer) => void) | undefined;
        pub.attach((b) => (write ? write(b) : pending.push(b)));
        started = packager.startRun(spec, () => undefined).then((run) => {
          for (const b of pending.splice(0)) run.write(b);
          write = (b) => run.write(b);
        });
      },
    },
  });
  await ingest.start();
  const t0 = Date.now();
  const push = pushRtmp(`rtmp://127.0.0.1:${port}/live`, 'bench', clip, { seconds: 8 });
  await waitFor(async () => (packager.firstPlayableAt ? true : undefined));
  const t = packager.firstPlayableAt! - t0;
  await started;
  await push.stop();
  await packager.stop();
  await ingest.close();
  await rm(root, { recursive: true, force: true });
  return t;
}

let server = await startServer({ config: { log_level: 'warn' }, env: { FRAMECAST_WORKERS: '1' } });
let admin = api(server.url, server.adminToken);
const playlist = async (id: string, name: string) => {
  const r = await fetch(`${server.url}/live/${id}/${name}/index.m3u8`);
  return r.ok ? r.text() : undefined;
};

async function nodeFirstPlayable(): Promise<number> {
  const live = (await admin.json('POST', '/v1/live', { title: 'bench', record: false })).body;
  const t0 = Date.now();
  const push = pushRtmp(live.rtmp_url, live.stream_key, clip, { seconds: 8 });
  await waitFor(async () => ((await fetch(`${server.url}/live/${live.id}/master.m3u8`)).ok ? everyRenditionHasASegment((n) => playlist(live.id, n)) : undefined));
  const t = Date.now() - t0;
  await push.stop();
  await admin.json('DELETE', `/v1/live/${live.id}`);
  return t;
}

/** Segment appearance over HTTP in the top encoded rung during a 30 s push. */
async function frameToPlaylist(): Promise<{ first_frame_ms: number[]; last_frame_ms: number[] }> {
  const live = (await admin.json('POST', '/v1/live', { title: 'bench latency', record: false })).body;
  const slowest = ladder.filter((r) => !r.passthrough).at(-1)!.name;
  const t0 = Date.now();
  const push = pushRtmp(live.rtmp_url, live.stream_key, clip);
  const seen = new Map<string, number>();
  while (push.child.exitCode === null) {
    const text = await playlist(live.id, slowest);
    if (text) for (const s of parseLivePlaylist(text).segments) if (!seen.has(s)) seen.set(s, Date.now() - t0);
    await sleep(50);
  }
  await push.exited;
  await admin.json('DELETE', `/v1/live/${live.id}`);
  // Full segments only (the last one of a publish is cut short by its end).
  const appear = [...seen.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([, t]) => t).slice(0, -1);
  return {
    first_frame_ms: appear.map((t, k) => t - k * SEGMENT_S * 1000),
    last_frame_ms: appear.map((t, k) => t - (k + 1) * SEGMENT_S * 1000),
  };
}

/** N lives at once for 20 s: did each keep its ladder and produce every segment? */
async function capacity(n: number): Promise<{ lives: number; sustained: boolean; segments: number[]; degraded: number }> {
  const lives = await Promise.all(Array.from({ length: n }, async () => (await admin.json('POST', '/v1/live', { title: `cap ${n}`, record: false })).body));
  const pushes = lives.map((l) => pushRtmp(l.rtmp_url, l.stream_key, clip, { seconds: 20 }));
  const counts = new Map<string, number>();
  const count = async () => {
    for (const l of lives) {
      const text = await playlist(l.id, '240p');
      if (text) {
        const p = parseLivePlaylist(text);
        counts.set(l.id, p.mediaSequence + p.segments.length);
      }
    }
  };
  while (pushes.some((p) => p.child.exitCode === null)) {
    await count();
    await sleep(500);
  }
  // Counted once more after the push: a segment still being listed when it ended is not lost.
  await sleep(3000);
  await count();
  const views = await Promise.all(lives.map(async (l) => (await admin.json('GET', `/v1/live/${l.id}`)).body));
  for (const l of lives) await admin.json('DELETE', `/v1/live/${l.id}`);
  const segments = lives.map((l) => counts.get(l.id) ?? 0);
  const degraded = views.filter((v) => v.degraded).length;
  // 20 s pushed = 10 segments; allow the last one to still be in flight.
  return { lives: n, sustained: degraded === 0 && segments.every((c) => c >= 9), segments, degraded };
}

try {
  const first = { pipe: [] as number[], relay: [] as number[], node: [] as number[] };
  for (let i = 0; i < (opts['capacity-only'] ? 0 : RUNS); i++) {
    first.pipe.push(await harnessFirstPlayable('pipe'));
    first.relay.push(await harnessFirstPlayable('rtmp'));
    first.node.push(await nodeFirstPlayable());
    await sleep(1000);
  }
  const latency = opts['capacity-only'] ? { first_frame_ms: [], last_frame_ms: [] } : await frameToPlaylist();
  const cap: (Awaited<ReturnType<typeof capacity>> & { part_s: number; loadavg: number[] })[] = [];
  for (const partS of PART_S) {
    await server.stop();
    server = await startServer({ config: { log_level: 'warn', live: { part_s: partS } }, env: { FRAMECAST_WORKERS: '1' } });
    admin = api(server.url, server.adminToken);
    for (let n = 1; n <= MAX_LIVES; n++) {
      const r = await capacity(n);
      cap.push({ ...r, part_s: partS, loadavg: loadavg() });
      console.log(`part_s ${partS}: ${n} lives ${r.sustained ? 'sustained' : 'NOT sustained'} (segments ${r.segments.join(' ')}, degraded ${r.degraded}, load average ${loadavg().map((v) => v.toFixed(1)).join(' ')})`);
      await sleep(3000);
      if (!r.sustained) break;
    }
  }
  // The packager fed in-process is the reference: the other paths add their transport.
  const base = median(first.pipe);
  const rows = [
    ['packager fed in-process', fmt(median(first.pipe) / 1000), first.pipe.map((v) => fmt(v / 1000)).join(' '), `${fmt(median(first.pipe) / base)}× ${verdict(median(first.pipe), base * 1.2, 'max')}`],
    ['packager pulling the relay', fmt(median(first.relay) / 1000), first.relay.map((v) => fmt(v / 1000)).join(' '), `${fmt(median(first.relay) / base)}×`],
    ['real node over HTTP', fmt(median(first.node) / 1000), first.node.map((v) => fmt(v / 1000)).join(' '), `${fmt(median(first.node) / base)}× ${verdict(median(first.node), base * 1.2, 'max')}`],
  ];
  console.log('\nFirst playable (push start → every rendition has a segment), seconds\n');
  console.log(markdownTable(['path', 'median', 'runs', 'vs in-process'], rows));
  const f = latency.first_frame_ms;
  console.log(`\nFrame-to-playlist over HTTP (${f.length} segments): first frame of a segment median ${fmt(median(f) / 1000)} s, max ${fmt(Math.max(...f) / 1000)} s ` +
    `(target ≤ ${SEGMENT_S + 1} s: ${verdict(median(f), (SEGMENT_S + 1) * 1000, 'max')} median, ${verdict(Math.max(...f), (SEGMENT_S + 1) * 1000, 'max')} max); ` +
    `last frame median ${fmt(median(latency.last_frame_ms) / 1000)} s`);
  console.log('\nSimultaneous 720p lives (240/360/480 encoded, 720 copied), 20 s each\n');
  console.log(markdownTable(['part_s', 'lives', 'sustained', 'segments per live (of 10)', 'degraded', 'load average (1 min)'], cap.map((c) => [String(c.part_s), String(c.lives), c.sustained ? 'yes' : 'no', c.segments.join(' '), String(c.degraded), c.loadavg[0]!.toFixed(1)])));
  const file = await writeResults('live', { first_playable_ms: first, frame_to_playlist_ms: latency, capacity: cap, ladder });
  console.log(`\nresults: ${file}`);
} finally {
  await server.stop();
  await rm(work, { recursive: true, force: true });
}
