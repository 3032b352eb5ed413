/**
 * Scale-out benchmark (issue 16): one long source, transcoded by one in-cluster worker in a
 * single pass, then in chunks (transcode.chunk_s) over 1, 2 … remote runner processes on
 * this machine, and the model that follows for N machines of this size.
 *
 *   npm run bench:scale [-- --seconds 1800 --height 1080 --runners 1,2,4 --chunk-s 60 --source FILE]
 *
 * Source: testsrc2 + sine (lavfi), 30 fps, keyframes every 2 s (as phones and OBS write
 * them: every 2 s boundary is a cut point), made once per run (or --source).
 * Single pass: a node with a worker (chunking off), a tus upload, GET /v1/videos/:id until
 * ready. Chunked: a node without a worker (api role: it probes nothing, joins the parts in
 * vod.finish) and N `framecast runner` processes. Wall: upload complete → ready. CPU: every
 * process of the node and of the runners (their own time and their reaped ffmpegs'), from
 * before the upload to ready, split into the Node.js processes and the ffmpeg/ffprobe under
 * them. Overhead: chunked CPU over the single pass's (target ≤ 1.10). Both runs use the
 * shipped x264 preset and job timings (config/default.yaml), not the test helper's.
 *
 * The model for N machines of this size: the chunks spread over N × cores, the audio part
 * (whole audio, loudness, storyboard decode) runs beside them as one job, the rest is fixed:
 *   wall(N) ≈ fixed + max(audio part, single-pass CPU × overhead ÷ (N × cores))
 * with `fixed` = upload complete → chunks queued (probe, keyframes) + last part → ready
 * (vod.finish, publish), measured in the run and scaled linearly to the modelled duration.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { loadConfig } from '../config/load.js';
import { api } from '../test/helpers/api.js';
import { startRunner, type TestRunner } from '../test/helpers/runner.js';
import { startServer, type TestServer } from '../test/helpers/server.js';
import { childrenOf, cpuTimes } from './proc-stats.js';
import { fmt, markdownTable, writeResults } from './report.js';
import { uploadFile } from './tus-file-upload.js';

const run = promisify(execFile);
const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
/** The shipped defaults (config/default.yaml): the test helper's faster preset and polling are for test speed. */
const DEFAULTS = loadConfig({ env: {} });
const PRODUCTION = {
  jobs: { poll_interval_ms: DEFAULTS.jobs.poll_interval_ms, lease_s: DEFAULTS.jobs.lease_s, backoff_base_s: DEFAULTS.jobs.backoff_base_s },
  transcode: { preset: DEFAULTS.transcode.preset },
};
const TARGET_OVERHEAD = 1.1;
/** The TritonTube service level: a 30-minute video encoded within 5 minutes. */
const TARGET_WALL_S = 300;

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1800' },
    height: { type: 'string', default: '1080' },
    runners: { type: 'string', default: '1,2,4' },
    'chunk-s': { type: 'string', default: '60' },
    source: { type: 'string' },
  },
});
const seconds = Number(opts.seconds);
const height = Number(opts.height);
const width = Math.round((height * 16) / 9 / 2) * 2;
const runnerCounts = opts.runners.split(',').map(Number);
const chunkS = Number(opts['chunk-s']);
const cores = availableParallelism();

/** A process running Node.js (the node's and the runners' own processes). */
function isNode(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'node';
  } catch {
    return false;
  }
}

/**
 * CPU seconds of a process tree: its Node.js processes' own (`self`), and the media tools
 * (ffmpeg, ffprobe) below them, live or reaped (`children`: a Node.js process reaps what it
 * spawns; its Node.js children, cluster workers, live until the end and are walked).
 */
function treeCpu(pid: number): { self: number; children: number } {
  let times;
  try {
    times = cpuTimes(pid);
  } catch {
    return { self: 0, children: 0 };
  }
  const out = { self: times.self, children: times.children };
  for (const child of childrenOf(pid)) {
    const sub = treeCpu(child);
    if (isNode(child)) {
      out.self += sub.self;
      out.children += sub.children;
    } else out.children += sub.self + sub.children;
  }
  return out;
}

async function makeSource(): Promise<string> {
  if (opts.source) return opts.source;
  const file = join(await mkdtemp(join(tmpdir(), 'framecast-scale-')), `source-${height}p-${seconds}s.mp4`);
  console.log(`making a ${seconds} s ${width}x${height} source …`);
  await run(FFMPEG, [
    '-hide_banner', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=30`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '23', '-pix_fmt', 'yuv420p', '-g', '60', '-c:a', 'aac', '-b:a', '128k', file,
  ]);
  return file;
}

/** CPU seconds of the processes of one run, by who spent them. */
interface CpuSplit {
  /** The node's Node.js processes (HTTP, media, its reaped children other than ffmpeg's work). */
  node: number;
  /** ffmpeg and ffprobe under the node (the single pass's transcode; vod.finish's sheets). */
  node_children: number;
  /** The runner processes themselves (HTTP transfers, job protocol). */
  runners: number;
  /** ffmpeg and ffprobe under the runners (chunks, the audio part, probes). */
  runner_children: number;
}

interface Measured {
  mode: string;
  runners: number;
  wall_s: number;
  cpu_s: number;
  cpu_split: CpuSplit;
  /** Chunked: upload complete → chunks queued, and the last part → ready (node log times). */
  fixed_s?: number;
  /** Chunked: the audio part's wall time on its runner. */
  audio_part_s?: number;
  chunks?: number;
}

/** Epoch ms of the first JSON log line with `msg` (and, if given, matching `also`). */
function logTime(logs: string, msg: string, also?: RegExp): number | undefined {
  for (const line of logs.split('\n')) {
    if (!line.includes(`"msg":"${msg}"`) || (also && !also.test(line))) continue;
    const time = /"time":(\d+)/.exec(line)?.[1];
    if (time) return Number(time);
  }
  return undefined;
}

async function uploadAndWait(server: TestServer, source: string, runnerPids: () => number[]): Promise<{ wall_s: number; cpu_s: number; cpu_split: CpuSplit; videoId: string; completedAt: number }> {
  const client = api(server.url, server.adminToken);
  const cpu = (): CpuSplit => {
    const node = treeCpu(server.process.pid!);
    const runners = runnerPids().map(treeCpu);
    return { node: node.self, node_children: node.children, runners: runners.reduce((s, r) => s + r.self, 0), runner_children: runners.reduce((s, r) => s + r.children, 0) };
  };
  const before = cpu();
  const up = await uploadFile(`${server.url}/v1/uploads`, source, {
    headers: { authorization: `Bearer ${server.adminToken}` },
    metadata: { filename: 'scale.mp4', title: 'scale benchmark' },
  });
  if (!up.videoId) throw new Error('the upload response named no video');
  for (let failures = 0; ; ) {
    // A loaded machine may drop a poll; only a run of them is an error.
    const answer = await client.json('GET', `/v1/videos/${up.videoId}`).catch((err: unknown) => {
      if (++failures > 20) throw err;
      return undefined;
    });
    if (!answer) {
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    failures = 0;
    const v = answer.body as { status: string; error?: unknown };
    if (v.status === 'failed') throw new Error(`processing failed: ${JSON.stringify(v.error)}`);
    if (v.status === 'ready') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const wall_s = (Date.now() - up.completedAt) / 1000;
  const after = cpu();
  const cpu_split = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, Math.round((v - before[k as keyof CpuSplit]) * 100) / 100])) as unknown as CpuSplit;
  const cpu_s = Object.values(cpu_split).reduce((s, v) => s + v, 0);
  return { wall_s, cpu_s, cpu_split, videoId: up.videoId, completedAt: up.completedAt };
}

async function singlePass(source: string): Promise<Measured> {
  const server = await startServer({ config: { transcode: { ...PRODUCTION.transcode, chunk_min_s: 0 }, jobs: PRODUCTION.jobs } });
  try {
    await server.mediaPid();
    const r = await uploadAndWait(server, source, () => []);
    return { mode: 'single pass, 1 worker', runners: 0, wall_s: r.wall_s, cpu_s: r.cpu_s, cpu_split: r.cpu_split };
  } finally {
    await server.stop();
  }
}

async function chunked(source: string, n: number): Promise<Measured> {
  const server = await startServer({ env: { FRAMECAST_ROLES: 'api' }, config: { transcode: { ...PRODUCTION.transcode, chunk_min_s: Math.min(120, seconds / 2), chunk_s: chunkS }, jobs: PRODUCTION.jobs } });
  const runners: TestRunner[] = [];
  try {
    const registration = (await api(server.url, server.adminToken).json('POST', '/v1/runners/tokens')).body.token as string;
    for (let i = 0; i < n; i++) runners.push(await startRunner(server.url, registration, `bench-${i}`));
    await Promise.all(runners.map((r) => r.waitForLog(/runner ready/, 120_000)));
    const r = await uploadAndWait(server, source, () => runners.map((x) => x.process.pid!));
    const logs = server.logs();
    const queued = logTime(logs, 'long source: transcoding in chunks');
    const chunks = Number(/"chunks":(\d+)[^\n]*long source: transcoding in chunks/.exec(logs)?.[1] ?? 0);
    const ready = logTime(logs, 'video ready');
    const lastPart = [...logs.matchAll(/"time":(\d+)[^\n]*"msg":"chunk done on a remote runner"/g)].map((m) => Number(m[1])).sort((a, b) => a - b).at(-1);
    const audioClaimed = logTime(logs, 'chunk claimed by a remote runner', /"kind":"audio"/);
    const audioDone = logTime(logs, 'chunk done on a remote runner', /"kind":"audio"/);
    const fixed = queued && lastPart && ready ? (queued - r.completedAt + (ready - lastPart)) / 1000 : undefined;
    return {
      mode: `chunked, ${n} runner${n > 1 ? 's' : ''}`,
      runners: n,
      wall_s: r.wall_s,
      cpu_s: r.cpu_s,
      cpu_split: r.cpu_split,
      chunks,
      ...(fixed !== undefined ? { fixed_s: fixed } : {}),
      ...(audioDone && audioClaimed ? { audio_part_s: (audioDone - audioClaimed) / 1000 } : {}),
    };
  } catch (err) {
    const dump = join(tmpdir(), `scale-chunked-${n}-logs.txt`);
    await writeFile(dump, [server.logs(), ...runners.map((x) => x.logs())].join('\n----\n'));
    console.error(`chunked run over ${n} runner(s) failed; logs in ${dump}`);
    throw err;
  } finally {
    for (const x of runners) await x.stop();
    await server.stop();
  }
}

const source = await makeSource();
const sourceBytes = (await stat(source)).size;
console.log(`source: ${source} (${(sourceBytes / 1e6).toFixed(1)} MB), ${cores} cores`);
const results: Measured[] = [await singlePass(source)];
console.log(results[0]);
for (const n of runnerCounts) {
  results.push(await chunked(source, n));
  console.log(results.at(-1));
}
const single = results[0]!;
const rows = results.map((r) => [
  r.mode,
  fmt(r.wall_s, 1),
  fmt(r.cpu_s, 1),
  r.runners ? fmt(r.cpu_s / single.cpu_s, 3) : '1',
  fmt(single.wall_s / r.wall_s, 2),
  r.chunks ? String(r.chunks) : '',
  r.fixed_s !== undefined ? fmt(r.fixed_s, 1) : '',
  r.audio_part_s !== undefined ? fmt(r.audio_part_s, 1) : '',
  [r.cpu_split.node, r.cpu_split.node_children, r.cpu_split.runners, r.cpu_split.runner_children].map((v) => fmt(v, 1)).join(' / '),
]);
console.log(`\n${seconds} s ${width}x${height}p30 source, chunk_s ${chunkS}, x264 preset ${PRODUCTION.transcode.preset}, ${cores} cores\n`);
console.log(markdownTable(['run', 'wall s', 'CPU s', 'CPU ÷ single', 'speed-up', 'chunks', 'fixed s', 'audio part s', 'CPU s: node / its ffmpeg / runners / their ffmpeg'], rows));

// The model, scaled to a 30-minute source from what this run measured.
const chunkedRuns = results.filter((r) => r.runners > 0);
const overhead = Math.min(...chunkedRuns.map((r) => r.cpu_s / single.cpu_s));
const scale = 1800 / seconds;
// The least contended run's figures (on a shared machine, runners slow each other down).
const fixed = Math.min(...chunkedRuns.map((r) => r.fixed_s ?? Infinity)) * scale;
const audioPart = Math.min(...chunkedRuns.map((r) => r.audio_part_s ?? Infinity)) * scale;
const singleCpu30 = single.cpu_s * scale;
const modelWall = (n: number) => fixed + Math.max(audioPart, (singleCpu30 * overhead) / (n * cores));
const enough = Array.from({ length: 128 }, (_, i) => i + 1).find((n) => modelWall(n) <= TARGET_WALL_S);
console.log(`\nmodel for a 1800 s source on N machines of ${cores} cores: single-pass CPU ${fmt(singleCpu30, 0)} s, overhead ${fmt(overhead, 3)} (target ≤ ${TARGET_OVERHEAD}), fixed ${fmt(fixed, 0)} s, audio part ${fmt(audioPart, 0)} s`);
for (const n of [1, 2, 4, 8, 16, 32]) console.log(`  N=${n}: ≈ ${fmt(modelWall(n), 0)} s`);
console.log(enough ? `  ${TARGET_WALL_S} s is met from N=${enough}` : `  ${TARGET_WALL_S} s is not met: the fixed part and the audio part alone take ${fmt(fixed + audioPart, 0)} s`);
const file = await writeResults('scale', { seconds, width, height, chunkS, preset: PRODUCTION.transcode.preset, cores, sourceBytes, results, model: { overhead, fixed, audioPart, singleCpu30, enough } });
console.log(`\nresults: ${file}`);
