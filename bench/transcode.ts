/**
 * Transcode benchmark: the Framecast VOD pipeline against one hand-written ffmpeg command
 * doing the same ladder, on the same machine, in the same run.
 *
 *   npm run bench:transcode [-- --seconds 60 --runs 1 --source FILE --hdr]
 *
 * Source: testsrc2 + sine (lavfi), 1080p30, encoded once to H.264/AAC mp4 (cached in a temp
 * dir for the run, or --source to reuse a file). With --hdr: the phone case, 10-bit HEVC
 * HLG (testsrc2 converted to HLG by zscale, tagged BT.2020/arib-std-b67) + AAC; both sides
 * then tone-map to BT.709 SDR once before the split (the reference with the hand-written
 * zscale/tonemap chain of FACTS.md) and tag the output bt709.
 *
 * Reference: ONE ffmpeg process, the ideal the pipeline is measured against: decode once,
 * split, scale to the five rungs, x264 with the pipeline's preset and GOP (keyframe every
 * 2 s, no scene cuts), AAC once, HLS fMP4 2 s segments with var_stream_map. No probe, no
 * poster, no storyboard, no loudness, no storage. Wall clock around the child; CPU from
 * this process's cutime+cstime (the child is reaped before they are read, and nothing else
 * of ours exits meanwhile).
 *
 * Pipeline: a real node (startServer, production job settings, preset veryfast), a tus
 * upload of the same file, then GET /v1/videos/:id every 100 ms. Wall: upload complete →
 * status ready. CPU: utime+stime+cutime+cstime of the media process (its ffprobe/ffmpeg
 * children are reaped by it) from before the upload to ready. Playable: upload complete →
 * the first poll where playback.hls_url is set while the video is still processing.
 *
 * Breakdown: the media process's children are sampled every 100 ms (argv, lifetime, CPU)
 * and the node's JSON log lines are timestamped, which splits the pipeline into queue
 * pickup, probe, the ladder ffmpeg, finishing (poster, playlists, DASH) and publish.
 * The ladder command itself is then replayed alone (unless --no-replay) so its extra
 * outputs (storyboard, loudness) can be told apart from the node's own work.
 *
 * On a shared machine wall time depends on the neighbours: each measured phase waits
 * (up to 2 min) for the rest of the machine to be nearly idle, and the report prints how
 * much other work ran meanwhile. CPU seconds are the steadier figure.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { api } from '../test/helpers/api.js';
import { startServer, type TestServer } from '../test/helpers/server.js';
import { ChildSampler, childrenOf, cpuTimes, machineCpu, threadCpu, waitForQuietMachine, type ChildRecord } from './proc-stats.js';
import { fmt, markdownTable, median, verdict, writeResults } from './report.js';
import { uploadFile } from './tus-file-upload.js';

const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
const PRESET = 'veryfast';
const FPS = 30;
const SEGMENT_S = 2;
const AUDIO_KBPS = 128;
/** config/default.yaml's ladder at 16:9 (widths as the ladder builder picks them: even, square pixels). */
const LADDER = [
  { name: '240p', width: 426, height: 240, kbps: 300 },
  { name: '360p', width: 640, height: 360, kbps: 600 },
  { name: '480p', width: 854, height: 480, kbps: 1100 },
  { name: '720p', width: 1280, height: 720, kbps: 2500 },
  { name: '1080p', width: 1920, height: 1080, kbps: 4500 },
] as const;
/** config/default.yaml's job settings (the test helper shortens them for test speed). */
const PRODUCTION_JOBS = { poll_interval_ms: 500, lease_s: 30, backoff_base_s: 5 };
const TARGET_RATIO = 1.1;
const TARGET_PLAYABLE_SHARE = 0.1;
const POLL_MS = 100;
/** Above this much other load, the report warns that the figures are skewed. */
const QUIET_LOAD_CORES = 0.15;

/** Wall seconds and CPU seconds of one measured thing. */
interface Cost {
  wall_s: number;
  cpu_s: number;
  /** Cores' worth of CPU that other work on the machine used meanwhile (0 = a quiet machine). */
  other_load_cores?: number;
}

interface PipelineRun extends Cost {
  playable_after_s: number | null;
  /** Status of GET master.m3u8 the moment the video became playable. */
  playable_master_status: number | null;
  /** From the node's own log times: upload complete → "video ready". */
  wall_by_log_s: number | null;
  cpu_media_process_s: number;
  cpu_children_s: number;
  /** CPU this benchmark process spent meanwhile (polling, sampling /proc). */
  cpu_bench_process_s: number;
  stages: Stage[];
  threads: { name: string; cpu_s: number }[];
  ladder_argv: string[] | null;
  /** Niceness the node gave its ladder ffmpeg (live.vod_niceness when the node also runs live). */
  ladder_nice: number | null;
}

interface Stage {
  stage: string;
  wall_s: number | null;
  cpu_s: number | null;
  note?: string;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}:\n${err}`))));
  });
}

/** Runs a command and measures it: wall clock and the CPU of the reaped child. */
async function timed(cmd: string, args: string[]): Promise<Cost> {
  const before = cpuTimes('self');
  const machineBefore = machineCpu().busy;
  const t0 = performance.now();
  await run(cmd, args);
  const wall_s = (performance.now() - t0) / 1000;
  const after = cpuTimes('self');
  const cpu_s = after.children - before.children;
  const other = machineCpu().busy - machineBefore - cpu_s - (after.self - before.self);
  return { wall_s, cpu_s, other_load_cores: Math.max(0, other) / wall_s };
}

/** The video encode of the bench source: H.264 SDR, or 10-bit HEVC HLG (--hdr) like a phone's. */
function sourceVideoArgs(hdr: boolean): string[] {
  const rate = ['-g', String(FPS * 2), '-b:v', '8M', '-maxrate', '8M', '-bufsize', '16M'];
  if (!hdr) return ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', ...rate];
  return [
    '-vf', 'zscale=tin=bt709:min=bt709:pin=bt709:rin=tv:t=arib-std-b67:m=bt2020nc:p=bt2020:r=tv:npl=100,format=yuv420p10le',
    '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error', '-tag:v', 'hvc1', ...rate,
    '-color_primaries', 'bt2020', '-color_trc', 'arib-std-b67', '-colorspace', 'bt2020nc', '-color_range', 'tv',
  ];
}

async function makeSource(dir: string, seconds: number, hdr: boolean): Promise<string> {
  const file = join(dir, hdr ? 'source-1080p30-hlg.mp4' : 'source-1080p30.mp4');
  await run(FFMPEG, [
    '-hide_banner', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=${FPS}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds),
    ...sourceVideoArgs(hdr),
    '-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart',
    file,
  ]);
  return file;
}

/** The reference's hand-written HLG → BT.709 SDR tone-map (FACTS.md's chain with the mobius curve). */
const REFERENCE_TONEMAP =
  'zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=mobius:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p';

/** The hand-written reference: the whole ladder in one ffmpeg process (see the file comment). */
function referenceArgs(source: string, outDir: string, hdr = false): string[] {
  const split = LADDER.map((_, i) => `[s${i}]`).join('');
  const graph = [
    `[0:v:0]${hdr ? `${REFERENCE_TONEMAP},` : ''}split=${LADDER.length}${split}`,
    ...LADDER.map((r, i) => `[s${i}]scale=${r.width}:${r.height},setsar=1[v${i}]`),
  ].join(';');
  const keyint = String(FPS * SEGMENT_S);
  return [
    '-hide_banner', '-nostdin', '-y', '-nostats', '-i', source,
    '-filter_complex', graph,
    ...LADDER.flatMap((_, i) => ['-map', `[v${i}]`]),
    '-map', '0:a:0',
    '-c:v', 'libx264', '-preset', PRESET, '-profile:v', 'high',
    '-g', keyint, '-keyint_min', keyint, '-sc_threshold', '0', '-flags', '+cgop', '-x264-params', 'open_gop=0:scenecut=0',
    '-force_key_frames', `expr:gte(t,n_forced*${SEGMENT_S})`,
    ...(hdr ? ['-color_primaries', 'bt709', '-color_trc', 'bt709', '-colorspace', 'bt709', '-color_range', 'tv'] : []),
    ...LADDER.flatMap((r, i) => [
      `-b:v:${i}`, `${r.kbps}k`, `-maxrate:v:${i}`, `${Math.round(r.kbps * 1.1)}k`, `-bufsize:v:${i}`, `${r.kbps * 2}k`,
    ]),
    '-c:a', 'aac', '-b:a', `${AUDIO_KBPS}k`, '-ac', '2', '-ar', '48000',
    '-f', 'hls', '-hls_time', String(SEGMENT_S), '-hls_list_size', '0', '-hls_playlist_type', 'vod',
    '-hls_segment_type', 'fmp4', '-hls_flags', 'independent_segments',
    '-hls_fmp4_init_filename', 'init_%v.mp4',
    '-hls_segment_filename', join(outDir, '%v', 'seg-%05d.m4s'),
    '-master_pl_name', 'master.m3u8',
    '-var_stream_map', [...LADDER.map((r, i) => `v:${i},agroup:aud,name:${r.name}`), 'a:0,agroup:aud,name:audio'].join(' '),
    join(outDir, '%v', 'index.m3u8'),
  ];
}

async function runReference(source: string, work: string, hdr: boolean): Promise<Cost> {
  const outDir = join(work, 'reference');
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const cost = await timed(FFMPEG, referenceArgs(source, outDir, hdr));
  const made = await readdir(outDir);
  if (!made.includes('master.m3u8') || !LADDER.every((r) => made.includes(r.name))) {
    throw new Error(`the reference did not write the whole ladder: ${made.join(', ')}`);
  }
  await rm(outDir, { recursive: true, force: true });
  return cost;
}

/** Log lines of the node (pino JSON) with their time, by message. */
function logTimes(server: TestServer, since: number): Map<string, number> {
  const times = new Map<string, number>();
  for (const line of server.logs().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; time?: number };
      if (entry.msg && entry.time && entry.time >= since && !times.has(entry.msg)) times.set(entry.msg, entry.time);
    } catch {
      /* a partial line */
    }
  }
  return times;
}

async function waitForLog(server: TestServer, msg: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!server.logs().includes(`"msg":"${msg}"`)) {
    if (Date.now() > deadline) throw new Error(`the node never logged "${msg}":\n${server.logs().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type ChildKind = 'probe' | 'ladder' | 'poster' | 'other';

/** What a child of the media process was, from its argv. */
function childKind(argv: string[]): ChildKind {
  const bin = argv[0] ?? '';
  if (bin.endsWith('ffprobe')) return 'probe';
  if (argv.includes('-master_pl_name')) return 'ladder';
  if (argv.some((a) => a.includes('thumbnail='))) return 'poster';
  return 'other';
}

function span(children: ChildRecord[]): { start: number; end: number; cpu: number; nice: number } | undefined {
  if (children.length === 0) return undefined;
  return {
    start: Math.min(...children.map((c) => c.firstSeen)),
    end: Math.max(...children.map((c) => c.lastSeen)),
    cpu: children.reduce((sum, c) => sum + c.cpu, 0),
    nice: Math.max(...children.map((c) => c.nice)),
  };
}

function seconds(from: number | undefined, to: number | undefined): number | null {
  return from === undefined || to === undefined ? null : (to - from) / 1000;
}

async function runPipeline(source: string, quiet: () => Promise<void>): Promise<PipelineRun> {
  const server = await startServer({ config: { transcode: { preset: PRESET }, jobs: PRODUCTION_JOBS } });
  try {
    const mediaPid = await server.mediaPid();
    // Start-up encoder detection runs ffmpeg too: let it finish before measuring.
    await waitForLog(server, 'media process ready');
    await quiet();
    const client = api(server.url, server.adminToken);
    const sampler = new ChildSampler(mediaPid, 100);
    const benchBefore = cpuTimes('self');
    // The whole node (supervisor, HTTP and media processes), to tell other work on the machine apart.
    const nodePids = [server.process.pid!, ...childrenOf(server.process.pid!)];
    const nodeBefore = nodePids.map((pid) => cpuTimes(pid).total);
    const machineBefore = machineCpu().busy;
    const threadsBefore = threadCpu(mediaPid);
    const before = cpuTimes(mediaPid);
    sampler.start();

    const up = await uploadFile(`${server.url}/v1/uploads`, source, {
      headers: { authorization: `Bearer ${server.adminToken}` },
      metadata: { filename: 'bench-1080p30.mp4', title: 'transcode benchmark' },
    });
    if (!up.videoId) throw new Error('the upload response named no video');
    const completed = up.completedAt;

    let playableAt: number | undefined;
    let playableMasterStatus: number | null = null;
    let readyAt: number | undefined;
    for (;;) {
      const r = await client.json('GET', `/v1/videos/${up.videoId}`);
      const now = Date.now();
      const v = r.body as { status: string; playback?: { hls_url: string | null }; error?: unknown };
      if (v.status === 'failed') throw new Error(`the pipeline failed: ${JSON.stringify(v.error)}`);
      if (v.status === 'ready') {
        readyAt = now;
        break;
      }
      if (playableAt === undefined && v.playback?.hls_url) {
        playableAt = now;
        playableMasterStatus = (await fetch(server.url + v.playback.hls_url)).status;
      }
      await new Promise((res) => setTimeout(res, Math.max(0, POLL_MS - (Date.now() - now))));
    }
    const after = cpuTimes(mediaPid);
    const threadsAfter = threadCpu(mediaPid);
    const children = sampler.stop();
    const benchCpu = cpuTimes('self').self - benchBefore.self;
    const nodeCpu = nodePids.reduce((sum, pid, i) => sum + cpuTimes(pid).total - nodeBefore[i]!, 0);
    const otherCpu = Math.max(0, machineCpu().busy - machineBefore - nodeCpu - benchCpu);

    const logs = logTimes(server, up.startedAt);
    const byKind = (k: ChildKind) => span(children.filter((c) => childKind(c.argv) === k));
    const probe = byKind('probe');
    const ladder = byKind('ladder');
    const poster = byKind('poster');
    const other = byKind('other');
    const jobStarted = logs.get('job started');
    const accepted = logs.get('source accepted');
    const encoded = logs.get('ladder encoded');
    const readyLogged = logs.get('video ready');
    const childrenCpu = after.children - before.children;
    const selfCpu = after.self - before.self;

    // Node names none of its threads, so only the main one can be told apart.
    let mainThread = 0;
    let otherThreads = 0;
    for (const [tid, t] of threadsAfter) {
      const used = t.cpu - (threadsBefore.get(tid)?.cpu ?? 0);
      if (tid === mediaPid) mainThread = used;
      else otherThreads += used;
    }
    const threadRows: { name: string; cpu_s: number }[] = [
      { name: 'main thread (job runner, staging sync, publish, DB)', cpu_s: mainThread },
      { name: `${threadsAfter.size - 1} other threads (piscina worker, libuv pool, V8)`, cpu_s: otherThreads },
      { name: 'threads that ended meanwhile', cpu_s: selfCpu - mainThread - otherThreads },
    ];

    const stages: Stage[] = [
      { stage: 'upload complete → job started (queue pickup)', wall_s: seconds(completed, jobStarted), cpu_s: null },
      {
        stage: 'job started → source accepted (ffprobe + setup)',
        wall_s: seconds(jobStarted, accepted),
        cpu_s: probe?.cpu ?? null,
        note: 'CPU: ffprobe only',
      },
      { stage: 'source accepted → ladder ffmpeg starts (worker thread start)', wall_s: seconds(accepted, ladder?.start), cpu_s: null },
      {
        stage: 'ladder ffmpeg (ladder + storyboard + loudness)',
        wall_s: seconds(ladder?.start, ladder?.end),
        cpu_s: ladder?.cpu ?? null,
        ...(ladder?.nice ? { note: `runs at nice ${ladder.nice}` } : {}),
      },
      { stage: 'ladder end → poster starts (VOD playlists, master)', wall_s: seconds(ladder?.end, poster?.start), cpu_s: null },
      { stage: 'poster ffmpeg', wall_s: seconds(poster?.start, poster?.end), cpu_s: poster?.cpu ?? null },
      { stage: 'poster end → ladder encoded (storyboard.vtt, master.mpd)', wall_s: seconds(poster?.end, encoded), cpu_s: null },
      { stage: 'ladder encoded → video ready (publish: copy, rename, DB)', wall_s: seconds(encoded, readyLogged), cpu_s: null },
      { stage: 'video ready → seen by the poller', wall_s: seconds(readyLogged, readyAt), cpu_s: null },
    ];
    if (other) stages.push({ stage: 'other ffmpeg children', wall_s: seconds(other.start, other.end), cpu_s: other.cpu });
    stages.push(
      { stage: 'media process itself (node, all threads)', wall_s: null, cpu_s: selfCpu },
      ...threadRows.map((t) => ({ stage: `  ${t.name}`, wall_s: null, cpu_s: t.cpu_s })),
      {
        stage: 'children, exact (cutime+cstime) − sampled',
        wall_s: null,
        cpu_s: childrenCpu - children.reduce((s, c) => s + c.cpu, 0),
        note: 'what the 100 ms sampler missed, e.g. a short ffprobe',
      },
    );

    const wall_s = (readyAt - completed) / 1000;
    return {
      wall_s,
      cpu_s: after.total - before.total,
      other_load_cores: otherCpu / ((readyAt - up.startedAt) / 1000),
      playable_after_s: seconds(completed, playableAt),
      playable_master_status: playableMasterStatus,
      wall_by_log_s: seconds(completed, readyLogged),
      cpu_media_process_s: selfCpu,
      cpu_children_s: childrenCpu,
      cpu_bench_process_s: benchCpu,
      stages,
      threads: threadRows,
      ladder_argv: children.find((c) => childKind(c.argv) === 'ladder')?.argv ?? null,
      ladder_nice: ladder?.nice ?? null,
    };
  } finally {
    await server.stop();
  }
}

/** The pipeline's ladder ffmpeg argv with one output or filter chain taken out. */
type Variant = { name: string; edit: (argv: string[]) => string[] };

function withoutStoryboard(argv: string[]): string[] {
  const out = [...argv];
  const mapAt = out.findIndex((a, i) => a === '-map' && out[i + 1] === '[sb]');
  if (mapAt >= 0) out.splice(mapAt); // the storyboard output is the last one
  const graphAt = out.indexOf('-filter_complex') + 1;
  const chains = out[graphAt]!.split(';').filter((c) => !c.includes('[sb]'));
  chains[0] = chains[0]!.replace(/split=(\d+)((?:\[s\d+\])+)\[ssb\]/, (_, n: string, outs: string) => `split=${Number(n) - 1}${outs}`);
  out[graphAt] = chains.join(';');
  return out;
}

function withoutLoudness(argv: string[]): string[] {
  const out = [...argv];
  const graphAt = out.indexOf('-filter_complex') + 1;
  out[graphAt] = out[graphAt]!
    .split(';')
    .filter((c) => !c.includes('ebur128'))
    .map((c) => c.replace('asplit=2[aenc][aloud]', 'anull[aenc]'))
    .join(';');
  return out;
}

const VARIANTS: Variant[] = [
  { name: 'pipeline ladder command, replayed alone', edit: (a) => a },
  { name: '  − storyboard output', edit: withoutStoryboard },
  { name: '  − storyboard − loudness', edit: (a) => withoutLoudness(withoutStoryboard(a)) },
];

/** Replays the captured ladder command (and variants) outside the node, into a fresh dir. */
async function replayLadder(argv: string[], source: string, work: string, quiet: () => Promise<void>): Promise<{ name: string; cost: Cost }[]> {
  const [bin, ...args] = argv;
  const progressAt = args.indexOf('-progress');
  if (progressAt >= 0) args.splice(progressAt, 2);
  // The node's copy of the source went with its data dir.
  args[args.indexOf('-i') + 1] = `file:${source}`;
  const results: { name: string; cost: Cost }[] = [];
  for (const variant of VARIANTS) {
    const outDir = join(work, 'replay');
    await rm(outDir, { recursive: true, force: true });
    await mkdir(outDir, { recursive: true });
    // Point every output path of the original work dir at ours.
    const original = args.find((a) => a.endsWith('/%v/index.m3u8'));
    const originalOut = original?.slice(0, -'/%v/index.m3u8'.length);
    const edited = variant.edit(args).map((a) => (originalOut && a.startsWith(originalOut) ? outDir + a.slice(originalOut.length) : a));
    await quiet();
    results.push({ name: variant.name, cost: await timed(bin!, edited) });
    await rm(outDir, { recursive: true, force: true });
  }
  return results;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      runs: { type: 'string', default: '1' },
      source: { type: 'string' },
      'no-replay': { type: 'boolean', default: false },
      hdr: { type: 'boolean', default: false },
    },
  });
  const hdr = values.hdr;
  const kind = hdr ? '1080p30 HLG 10-bit HEVC' : '1080p30';
  const secs = Number(values.seconds);
  const runs = Math.max(1, Number(values.runs));
  const work = await mkdtemp(join(tmpdir(), 'framecast-bench-transcode-'));
  try {
    let source = values.source;
    if (!source) {
      process.stderr.write(`making a ${secs} s ${kind} source…\n`);
      const t0 = performance.now();
      source = await makeSource(work, secs, hdr);
      process.stderr.write(`  done in ${fmt((performance.now() - t0) / 1000, 1)} s (${fmt((await stat(source)).size / 1e6, 1)} MB)\n`);
    }

    const quiet = async () => {
      const other = await waitForQuietMachine();
      if (other >= 0.15) process.stderr.write(`  the machine is busy (${fmt(other)} cores of other work); measuring anyway\n`);
    };
    const results: { reference: Cost; pipeline: PipelineRun }[] = [];
    for (let i = 0; i < runs; i++) {
      await quiet();
      process.stderr.write(`run ${i + 1}/${runs}: reference…\n`);
      const reference = await runReference(source, work, hdr);
      process.stderr.write(`  reference: ${fmt(reference.wall_s)} s wall, ${fmt(reference.cpu_s)} s CPU; pipeline…\n`);
      const pipeline = await runPipeline(source, quiet);
      process.stderr.write(`  pipeline: ${fmt(pipeline.wall_s)} s wall, ${fmt(pipeline.cpu_s)} s CPU, playable after ${fmt(pipeline.playable_after_s)} s\n`);
      results.push({ reference, pipeline });
    }

    const last = results[results.length - 1]!.pipeline;
    let replay: { name: string; cost: Cost }[] = [];
    if (!values['no-replay'] && last.ladder_argv) {
      process.stderr.write('replaying the pipeline ladder command alone (and without its extra outputs)…\n');
      replay = await replayLadder(last.ladder_argv, source, work, quiet);
    }

    const refWall = median(results.map((r) => r.reference.wall_s));
    const refCpu = median(results.map((r) => r.reference.cpu_s));
    const pipeWall = median(results.map((r) => r.pipeline.wall_s));
    const pipeCpu = median(results.map((r) => r.pipeline.cpu_s));
    const wallRatio = median(results.map((r) => r.pipeline.wall_s / r.reference.wall_s));
    const cpuRatio = median(results.map((r) => r.pipeline.cpu_s / r.reference.cpu_s));
    const playable = median(results.flatMap((r) => (r.pipeline.playable_after_s === null ? [] : [r.pipeline.playable_after_s])));
    const playableShare = median(
      results.flatMap((r) => (r.pipeline.playable_after_s === null ? [] : [r.pipeline.playable_after_s / r.pipeline.wall_s])),
    );

    const machine = {
      cpus: availableParallelism(),
      cpu_model: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      ffmpeg: await ffmpegVersion(),
    };
    const runsNote = runs > 1 ? `medians of ${runs} runs` : '1 run';
    const out: string[] = [];
    out.push(`## Transcode: ${secs} s ${kind} source → 240p–1080p ladder${hdr ? ' tone-mapped to SDR' : ''}, x264 ${PRESET}, ${SEGMENT_S} s fMP4 segments`);
    out.push('');
    out.push(`${machine.cpus} cores (${machine.cpu_model}), Node ${machine.node}, ffmpeg ${machine.ffmpeg}; ${runsNote}; reference run first, then the pipeline.`);
    out.push('');
    out.push(
      markdownTable(
        ['metric', 'reference (1 ffmpeg)', 'Framecast pipeline', 'ratio', 'target', 'result'],
        [
          ['wall, upload complete → ready (s)', fmt(refWall), fmt(pipeWall), fmt(wallRatio, 3), `≤ ${TARGET_RATIO.toFixed(2)}×`, verdict(wallRatio, TARGET_RATIO, 'max')],
          ['CPU, media process + children (s)', fmt(refCpu), fmt(pipeCpu), fmt(cpuRatio, 3), `≤ ${TARGET_RATIO.toFixed(2)}×`, verdict(cpuRatio, TARGET_RATIO, 'max')],
          [
            'playable after upload (s)',
            '—',
            fmt(playable),
            `${fmt(playableShare, 3)} of pipeline wall`,
            `≤ ${TARGET_PLAYABLE_SHARE.toFixed(2)}`,
            Number.isFinite(playableShare) ? verdict(playableShare, TARGET_PLAYABLE_SHARE, 'max') : 'MISS',
          ],
        ],
      ),
    );
    const otherRef = median(results.map((r) => r.reference.other_load_cores ?? 0));
    const otherPipe = median(results.map((r) => r.pipeline.other_load_cores ?? 0));
    out.push('');
    out.push(
      `Other work on the machine meanwhile (cores busy on average; 0 = quiet): reference ${fmt(otherRef)}, pipeline ${fmt(otherPipe)}.` +
        (Math.max(otherRef, otherPipe) > QUIET_LOAD_CORES ? ' WARNING: the machine was not quiet; wall times (and so the ratios) are skewed.' : ''),
    );
    out.push('');
    out.push(`### Where the pipeline's time goes (run ${results.length} of ${runs})`);
    out.push('');
    out.push(
      markdownTable(
        ['stage', 'wall (s)', 'CPU (s)'],
        last.stages.map((s) => [s.note ? `${s.stage} (${s.note})` : s.stage, fmt(s.wall_s), fmt(s.cpu_s)]),
      ),
    );
    out.push('');
    out.push(
      `Pipeline total ${fmt(last.wall_s)} s wall (${fmt(last.wall_by_log_s)} s by the node's own log), ${fmt(last.cpu_s)} s CPU ` +
        `= ${fmt(last.cpu_children_s)} s in ffprobe/ffmpeg + ${fmt(last.cpu_media_process_s)} s in the media process. ` +
        `The benchmark process itself used ${fmt(last.cpu_bench_process_s)} s CPU meanwhile (polling, /proc sampling). ` +
        `master.m3u8 answered ${last.playable_master_status ?? '—'} when the video became playable.`,
    );
    if (last.ladder_nice) {
      out.push('');
      out.push(
        `The node ran its ladder ffmpeg at nice ${last.ladder_nice} (live.vod_niceness: VOD yields to live work), the reference at ` +
          'nice 0: with other work on the machine the pipeline gets a smaller share of the cores than the reference did.',
      );
    }
    if (replay.length > 0) {
      out.push('');
      out.push('### The ladder command alone (replayed outside the node, same source)');
      out.push('');
      const lastRef = results[results.length - 1]!.reference;
      const refRow = ['reference (hand-written, above)', fmt(lastRef.wall_s), fmt(lastRef.cpu_s), '1.000', '1.000', fmt(lastRef.other_load_cores)];
      out.push(
        markdownTable(
          ['command', 'wall (s)', 'CPU (s)', 'wall / reference', 'CPU / reference', 'other load (cores)'],
          [
            refRow,
            ...replay.map((r) => [
              r.name,
              fmt(r.cost.wall_s),
              fmt(r.cost.cpu_s),
              fmt(r.cost.wall_s / lastRef.wall_s, 3),
              fmt(r.cost.cpu_s / lastRef.cpu_s, 3),
              fmt(r.cost.other_load_cores),
            ]),
          ],
        ),
      );
    }
    process.stdout.write(`${out.join('\n')}\n`);

    const file = await writeResults(hdr ? 'transcode-hdr' : 'transcode', {
      date: new Date().toISOString(),
      machine,
      params: { seconds: secs, runs, hdr, preset: PRESET, segment_s: SEGMENT_S, ladder: LADDER, audio_kbps: AUDIO_KBPS, jobs: PRODUCTION_JOBS },
      targets: { wall_ratio_max: TARGET_RATIO, cpu_ratio_max: TARGET_RATIO, playable_share_max: TARGET_PLAYABLE_SHARE },
      summary: {
        other_load_cores: { reference: otherRef, pipeline: otherPipe },
        reference_wall_s: refWall,
        reference_cpu_s: refCpu,
        pipeline_wall_s: pipeWall,
        pipeline_cpu_s: pipeCpu,
        wall_ratio: wallRatio,
        cpu_ratio: cpuRatio,
        playable_after_s: playable,
        playable_share_of_wall: playableShare,
      },
      runs: results,
      replay,
      reference_argv: referenceArgs('SOURCE', 'OUT', hdr),
    });
    process.stdout.write(`\nJSON: ${file}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function ffmpegVersion(): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(FFMPEG, ['-version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.once('error', () => resolve('unknown'));
    child.once('exit', () => resolve(/^ffmpeg version (\S+)/.exec(text)?.[1] ?? 'unknown'));
  });
}

await main();
