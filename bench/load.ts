/**
 * Load benchmark: one Framecast node on this machine taking many tus uploads while many HLS
 * viewers watch a ready video, both at once for a fixed time.
 *
 *   node --import tsx bench/load.ts [-- --seconds 120 --uploads 200 --upload-mib 20
 *                                       --viewers 1000 --workers 2 --warmup-seconds 15 --unpaced]
 *
 * Uploads: `--uploads` loops in this process, each uploading a `--upload-mib` file with
 * tus-js-client (one PATCH, streamed from disk) again and again until the time is up, so that
 * many uploads are in flight for the whole run; uploads still in flight then are finished and
 * counted. The file is random bytes: the node's probe refuses it at once (E_NOT_MEDIA), so the
 * benchmark measures upload handling, not 200 transcodes (which would take hours on 2 cores
 * and starve everything else). The statuses the uploaded videos reached are reported. The node
 * keeps every upload on disk, so new uploads stop (with a warning) below 10 GB free.
 * Viewers: `--viewers` loops, each fetching the master playlist, one media playlist (the
 * renditions are shared out round-robin), its init segment and its segments, then again.
 * Paced as a player is once its buffer is full: a segment every segment duration (starts
 * spread over the first one); a viewer that falls behind fetches back to back. `--unpaced`
 * drops the pacing (a closed loop: the latencies then measure saturation).
 * All viewer requests go through one keep-alive http.Agent (a connection per viewer).
 * The watched video is a 720p lavfi clip uploaded and transcoded before the clock starts.
 *
 * The node runs as `npm start` would (supervisor, `--workers` HTTP processes, media process),
 * from source under tsx, with the production job settings. Errors: failed uploads, viewer
 * responses other than 200, socket errors and timeouts (30 s); the target is zero.
 * Memory: VmRSS of each HTTP process every 5 s; "flat" compares the first sample after
 * `--warmup-seconds` with the last one, and the max is shown too.
 * The client (this process) shares the 2 cores with the node: its CPU is reported, since a
 * saturated client caps both throughput and request rate.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { Agent, get } from 'node:http';
import { once } from 'node:events';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { api, tusUpload, waitForVideo, type Api } from '../test/helpers/api.js';
import { makeClip } from '../test/helpers/media-fixtures.js';
import { startServer, type TestServer } from '../test/helpers/server.js';
import { childrenOf, cpuTimes, machineCpu, memory } from './proc-stats.js';
import { fmt, markdownTable, median, verdict, writeResults } from './report.js';
import { uploadFile } from './tus-file-upload.js';

const MIB = 1024 * 1024;
const MB = 1e6;
const RSS_INTERVAL_MS = 5000;
const REQUEST_TIMEOUT_MS = 30_000;
/** Growth of an HTTP process's RSS from the first post-warm-up sample to the last that still counts as flat. */
const FLAT_RSS_GROWTH_MB = 50;
/** Uploads stop starting below this much free disk (the node keeps every upload). */
const MIN_FREE_BYTES = 10e9;
const PRODUCTION_JOBS = { poll_interval_ms: 500, lease_s: 30, backoff_base_s: 5 };

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    uploads: { type: 'string', default: '200' },
    'upload-mib': { type: 'string', default: '20' },
    viewers: { type: 'string', default: '1000' },
    workers: { type: 'string', default: String(availableParallelism()) },
    'warmup-seconds': { type: 'string', default: '15' },
    unpaced: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(args.seconds);
const UPLOADS = Number(args.uploads);
const UPLOAD_MIB = Number(args['upload-mib']);
const VIEWERS = Number(args.viewers);
const WORKERS = Number(args.workers);
const WARMUP_S = Math.min(Number(args['warmup-seconds']), SECONDS / 2);
const PACED = !args.unpaced;

/** Everything that went wrong, by kind, with the first few messages. */
class ErrorLog {
  readonly counts = new Map<string, number>();
  readonly samples: string[] = [];

  add(kind: string, message: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    if (this.samples.length < 10) this.samples.push(`${kind}: ${message}`);
  }

  get total(): number {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }
}

/** Percentile (0..100) by nearest rank. */
function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function makeRandomFile(file: string, mib: number): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < mib; i++) {
    if (!out.write(randomBytes(MIB))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A GET read to the end through the viewers' agent: status, body (when asked) and latency. */
function fetchAll(agent: Agent, url: string, keepBody: boolean): Promise<{ status: number; body: string; bytes: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = get(url, { agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        if (keepBody) chunks.push(d);
      });
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, body: keepBody ? Buffer.concat(chunks).toString('utf8') : '', bytes, ms: performance.now() - started }),
      );
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`timed out after ${REQUEST_TIMEOUT_MS} ms`)));
    req.once('error', reject);
  });
}

/** The URIs (resolved) of a playlist's non-tag lines, with the EXTINF durations before them. */
function parsePlaylist(text: string, base: string): { uris: { url: string; seconds: number }[]; map: string | null } {
  const uris: { url: string; seconds: number }[] = [];
  let map: string | null = null;
  let seconds = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const extinf = /^#EXTINF:([\d.]+)/.exec(line);
    const extmap = /^#EXT-X-MAP:.*URI="([^"]+)"/.exec(line);
    if (extinf) seconds = Number(extinf[1]);
    else if (extmap) map = new URL(extmap[1]!, base).href;
    else if (!line.startsWith('#')) {
      uris.push({ url: new URL(line, base).href, seconds });
      seconds = 0;
    }
  }
  return { uris, map };
}

/** What the viewers measured. */
interface ViewerStats {
  requests: number;
  bytes: number;
  segmentMs: number[];
  playlistMs: number[];
  /** Segments fetched later than their paced time by more than one segment duration. */
  behind: number;
}

async function viewer(index: number, masterUrl: string, agent: Agent, deadline: number, stats: ViewerStats, errors: ErrorLog): Promise<void> {
  const get200 = async (url: string, keepBody: boolean, kind: 'playlist' | 'segment') => {
    const r = await fetchAll(agent, url, keepBody);
    stats.requests++;
    stats.bytes += r.bytes;
    if (r.status !== 200) throw new Error(`${r.status} for ${url}`);
    (kind === 'segment' ? stats.segmentMs : stats.playlistMs).push(r.ms);
    return r.body;
  };
  // Spread the starts over the first segment duration, as real viewers arrive at random.
  if (PACED) await sleep(Math.random() * 2000);
  while (Date.now() < deadline) {
    try {
      const variants = parsePlaylist(await get200(masterUrl, true, 'playlist'), masterUrl).uris;
      if (variants.length === 0) throw new Error('the master playlist names no variant');
      const mediaUrl = variants[index % variants.length]!.url;
      const media = parsePlaylist(await get200(mediaUrl, true, 'playlist'), mediaUrl);
      if (media.map) await get200(media.map, false, 'segment');
      let due = Date.now();
      for (const seg of media.uris) {
        if (Date.now() >= deadline) return;
        if (PACED) {
          const wait = due - Date.now();
          if (wait > 0) await sleep(wait);
          else if (-wait > seg.seconds * 1000) stats.behind++;
        }
        await get200(seg.url, false, 'segment');
        due += seg.seconds * 1000;
      }
    } catch (err) {
      errors.add('viewer', (err as Error).message);
      // A failing origin should not be hammered in a tight loop.
      await sleep(1000);
    }
  }
}

/** What the uploaders measured. */
interface UploadStats {
  seconds: number[];
  bytes: number;
  videoIds: string[];
  lastCompletedAt: number;
  /** New uploads stopped early because the disk was nearly full. */
  stoppedForDisk: boolean;
}

/** Bytes free on the file system of `dir`. */
async function freeBytes(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

async function uploader(node: TestServer, file: string, deadline: number, stats: UploadStats, errors: ErrorLog): Promise<void> {
  while (Date.now() < deadline) {
    // Every upload is kept on disk: at loopback speed a long run could fill it.
    if ((await freeBytes(node.dataDir)) < MIN_FREE_BYTES) {
      stats.stoppedForDisk = true;
      return;
    }
    try {
      const up = await uploadFile(`${node.url}/v1/uploads`, file, {
        headers: { authorization: `Bearer ${node.adminToken}` },
        metadata: { filename: 'load.bin', title: 'load benchmark' },
      });
      stats.seconds.push((up.completedAt - up.startedAt) / 1000);
      stats.bytes += up.bytes;
      stats.lastCompletedAt = Math.max(stats.lastCompletedAt, up.completedAt);
      if (up.videoId) stats.videoIds.push(up.videoId);
      else errors.add('upload', 'the upload response named no video');
    } catch (err) {
      errors.add('upload', (err as Error).message);
      await sleep(1000);
    }
  }
}

/** Uploads a 720p clip and waits for it to be ready; returns its master playlist URL. */
async function readyVideo(node: TestServer, client: Api, work: string): Promise<string> {
  const file = await makeClip(work, { width: 1280, height: 720, seconds: 20, name: 'watched.mp4' });
  const up = await tusUpload(node.url, file, { token: node.adminToken, metadata: { filename: 'watched.mp4', title: 'watched' } });
  const video = await waitForVideo(client, up.videoId!, undefined, 600_000);
  if (video.status !== 'ready') throw new Error(`the watched video failed: ${JSON.stringify(video.error)}`);
  return new URL(video.playback.hls_url, node.url).href;
}

/** How many uploaded videos reached each status (and error code). */
async function uploadOutcomes(client: Api, ids: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const id of ids) {
    const r = await client.json('GET', `/v1/videos/${id}`);
    const key = r.status !== 200 ? `HTTP ${r.status}` : r.body.error?.code ? `${r.body.status} ${r.body.error.code}` : r.body.status;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'framecast-bench-load-'));
  let node: TestServer | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  try {
    process.stderr.write(`writing ${UPLOAD_MIB} MiB of random bytes…\n`);
    const file = join(work, 'random.bin');
    await makeRandomFile(file, UPLOAD_MIB);
    node = await startServer({
      config: { transcode: { preset: 'ultrafast' }, jobs: PRODUCTION_JOBS, log_level: 'warn' },
      env: { FRAMECAST_WORKERS: String(WORKERS) },
    });
    const client = api(node.url, node.adminToken);
    process.stderr.write('uploading and transcoding the watched video (720p, 20 s)…\n');
    const masterUrl = await readyVideo(node, client, work);
    const media = await node.mediaPid();
    const httpPids = childrenOf(node.process.pid!).filter((pid) => pid !== media);
    if (httpPids.length === 0) throw new Error('found no Framecast HTTP process');

    const errors = new ErrorLog();
    const viewers: ViewerStats = { requests: 0, bytes: 0, segmentMs: [], playlistMs: [], behind: 0 };
    const uploads: UploadStats = { seconds: [], bytes: 0, videoIds: [], lastCompletedAt: 0, stoppedForDisk: false };
    const rss: { t_s: number; mb: number[] }[] = [];
    const started = Date.now();
    const deadline = started + SECONDS * 1000;
    const sampleRss = () => rss.push({ t_s: (Date.now() - started) / 1000, mb: httpPids.map((pid) => memory(pid).rss / MB) });
    sampleRss();
    const rssTimer = setInterval(sampleRss, RSS_INTERVAL_MS);
    const progress = setInterval(
      () =>
        process.stderr.write(
          `  ${Math.round((Date.now() - started) / 1000)} s: ${uploads.seconds.length} uploads, ${viewers.requests} viewer requests, ${errors.total} errors\n`,
        ),
      10_000,
    );
    const clientCpu0 = cpuTimes('self').self;
    const nodeCpu0 = [node.process.pid!, ...httpPids, media].reduce((s, pid) => s + cpuTimes(pid).total, 0);
    const machine0 = machineCpu().busy;
    process.stderr.write(`running ${UPLOADS} upload loops and ${VIEWERS} viewers for ${SECONDS} s…\n`);
    const viewersDone = Promise.all(Array.from({ length: VIEWERS }, (_, i) => viewer(i, masterUrl, agent, deadline, viewers, errors)));
    const uploadsDone = Promise.all(Array.from({ length: UPLOADS }, () => uploader(node!, file, deadline, uploads, errors)));
    await viewersDone;
    const viewersEnded = Date.now();
    await uploadsDone;
    clearInterval(rssTimer);
    clearInterval(progress);
    sampleRss();
    const wall = (Date.now() - started) / 1000;
    const clientCpu = cpuTimes('self').self - clientCpu0;
    const nodeCpu = [node.process.pid!, ...httpPids, media].reduce((s, pid) => s + cpuTimes(pid).total, 0) - nodeCpu0;
    const machineBusy = machineCpu().busy - machine0;
    const outcomes = await uploadOutcomes(client, uploads.videoIds);

    const uploadSpan = (uploads.lastCompletedAt - started) / 1000;
    const uploadMbps = uploads.bytes / uploadSpan / MB;
    const viewerSpan = (viewersEnded - started) / 1000;
    const warm = rss.find((s) => s.t_s >= WARMUP_S) ?? rss[0]!;
    const last = rss[rss.length - 1]!;
    const perProcess = httpPids.map((pid, i) => ({
      pid,
      warm_mb: warm.mb[i]!,
      last_mb: last.mb[i]!,
      max_mb: Math.max(...rss.map((s) => s.mb[i]!)),
      start_mb: rss[0]!.mb[i]!,
    }));
    const growth = Math.max(...perProcess.map((p) => p.last_mb - p.warm_mb));
    const machine = { cpus: availableParallelism(), cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version };

    const out: string[] = [];
    out.push(`## Load: ${UPLOADS} concurrent tus uploads of ${UPLOAD_MIB} MiB + ${VIEWERS} HLS viewers, ${SECONDS} s, one node`);
    out.push('');
    out.push(
      `${machine.cpus} cores (${machine.cpu_model}), Node ${machine.node}; Framecast with ${httpPids.length} HTTP process(es); ` +
        `uploads are random bytes (refused E_NOT_MEDIA, no transcode); viewers ${PACED ? 'paced at one segment per segment duration' : 'unpaced (closed loop)'}; ` +
        `client and node on the same cores.`,
    );
    out.push('');
    out.push(
      markdownTable(
        ['measure', 'value'],
        [
          ['errors (uploads + viewers)', `${errors.total}${errors.total ? ` (${[...errors.counts].map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''}`],
          ['uploads completed', String(uploads.seconds.length)],
          ['upload throughput (all uploads, MB/s)', fmt(uploadMbps, 1)],
          ['upload time p50 / p99 / max (s)', `${fmt(median(uploads.seconds))} / ${fmt(percentile(uploads.seconds, 99))} / ${fmt(Math.max(...uploads.seconds))}`],
          ['uploaded videos ended', Object.entries(outcomes).map(([k, n]) => `${k}: ${n}`).join(', ')],
          ['viewer requests', `${viewers.requests} (${fmt(viewers.requests / viewerSpan, 0)}/s, ${fmt(viewers.bytes / viewerSpan / MB, 1)} MB/s)`],
          ['segment latency p50 / p99 (ms)', `${fmt(percentile(viewers.segmentMs, 50), 1)} / ${fmt(percentile(viewers.segmentMs, 99), 1)}`],
          ['playlist latency p50 / p99 (ms)', `${fmt(percentile(viewers.playlistMs, 50), 1)} / ${fmt(percentile(viewers.playlistMs, 99), 1)}`],
          ...(PACED ? [['segments fetched > 1 segment late (viewer behind)', String(viewers.behind)]] : []),
          ['CPU: node / client / whole machine (cores)', `${fmt(nodeCpu / wall)} / ${fmt(clientCpu / wall)} / ${fmt(machineBusy / wall)}`],
        ],
      ),
    );
    out.push('');
    out.push(
      markdownTable(
        ['HTTP process', 'RSS at start (MB)', `RSS at ${fmt(warm.t_s, 0)} s, after warm-up (MB)`, `RSS at end, ${fmt(last.t_s, 0)} s (MB)`, 'max RSS (MB)'],
        perProcess.map((p) => [String(p.pid), fmt(p.start_mb, 1), fmt(p.warm_mb, 1), fmt(p.last_mb, 1), fmt(p.max_mb, 1)]),
      ),
    );
    out.push('');
    out.push(
      markdownTable(
        ['target', 'measured', 'bound', 'result'],
        [
          ['errors', String(errors.total), '0', verdict(errors.total, 0, 'max')],
          ['HTTP RSS growth after warm-up (worst process)', `${fmt(growth, 1)} MB`, `≤ ${FLAT_RSS_GROWTH_MB} MB`, verdict(growth, FLAT_RSS_GROWTH_MB, 'max')],
        ],
      ),
    );
    if (uploads.stoppedForDisk) out.push('', `WARNING: new uploads stopped early: under ${MIN_FREE_BYTES / 1e9} GB of disk left.`);
    if (errors.samples.length) out.push('', 'First errors:', ...errors.samples.map((s) => `- ${s}`));
    process.stdout.write(`${out.join('\n')}\n`);

    const json = await writeResults('load', {
      date: new Date().toISOString(),
      machine,
      params: {
        seconds: SECONDS,
        uploads: UPLOADS,
        upload_mib: UPLOAD_MIB,
        viewers: VIEWERS,
        paced: PACED,
        warmup_s: WARMUP_S,
        framecast_http_processes: httpPids.length,
        upload_content: 'random bytes (E_NOT_MEDIA)',
      },
      summary: {
        errors: errors.total,
        errors_by_kind: Object.fromEntries(errors.counts),
        error_samples: errors.samples,
        uploads_completed: uploads.seconds.length,
        upload_mb_per_s: uploadMbps,
        upload_p50_s: median(uploads.seconds),
        upload_p99_s: percentile(uploads.seconds, 99),
        upload_outcomes: outcomes,
        uploads_stopped_for_disk: uploads.stoppedForDisk,
        viewer_requests: viewers.requests,
        viewer_requests_per_s: viewers.requests / viewerSpan,
        viewer_mb_per_s: viewers.bytes / viewerSpan / MB,
        segment_p50_ms: percentile(viewers.segmentMs, 50),
        segment_p99_ms: percentile(viewers.segmentMs, 99),
        playlist_p50_ms: percentile(viewers.playlistMs, 50),
        playlist_p99_ms: percentile(viewers.playlistMs, 99),
        segments_behind: viewers.behind,
        cpu_cores: { node: nodeCpu / wall, client: clientCpu / wall, machine: machineBusy / wall },
        rss_growth_after_warmup_mb: growth,
      },
      rss_per_process: perProcess,
      rss_samples: rss,
    });
    process.stdout.write(`\nJSON: ${json}\n`);
  } finally {
    agent.destroy();
    await node?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
