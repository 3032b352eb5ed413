/**
 * Upload benchmark: a 1 GiB tus upload over loopback into a real Framecast node against a
 * bare Node http server that only streams the body to a file, same machine, same run.
 *
 *   npm run bench:upload [-- --size-mib 1024 --runs 3]   (an upload takes about a second:
 *                                                         the median of 3 is cheap and steadier)
 *
 * The same tus-js-client code (path-based fs.ReadStream, no chunkSize: one PATCH with the
 * whole file) drives both servers: the bare server speaks just enough tus for it
 * (bare-upload-server.ts), so the difference is the server alone. A plain streamed
 * http.request PUT into the same bare server is shown too, as the cost of tus-js-client
 * itself. Both servers are separate processes, as Framecast's HTTP process is.
 *
 * Throughput: bytes / (start → tus onSuccess), in MB/s (10^6 B/s); for Framecast this
 * includes creating the video and queueing its job. On a small machine the client can be
 * the bottleneck (then both throughputs tie), so the servers' CPU per upload is shown too.
 * Memory: VmRSS of each Framecast HTTP process (children of the supervisor whose
 * FRAMECAST_PROCESS_ROLE is http) sampled every 50 ms; growth = peak − the value before the upload (VmHWM
 * gives the exact peak when it moved).
 * Each measured upload first waits (up to 1 min) for the rest of the machine to be nearly
 * idle; the report shows the other work that ran meanwhile.
 * Each server first takes a small warm-up upload (a fresh process pays for JIT and heap
 * growth on its first request, which is not what the memory target is about).
 * The file is random bytes, so the node's probe refuses it at once (E_NOT_MEDIA) and no
 * transcode runs; the benchmark waits for that before going on.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { api, waitForVideo } from '../test/helpers/api.js';
import { startServer, type TestServer } from '../test/helpers/server.js';
import { childrenOf, cpuTimes, machineCpu, memory, waitForQuietMachine } from './proc-stats.js';
import { fmt, markdownTable, median, verdict, writeResults } from './report.js';
import { uploadFile } from './tus-file-upload.js';

const MIB = 1024 * 1024;
const TARGET_THROUGHPUT_RATIO = 0.8;
const WARMUP_MIB = 16;
/** Above this much other load during an upload, the report warns that the figures are skewed. */
const QUIET_LOAD_CORES = 0.15;
const TARGET_RSS_GROWTH_MB = 100;
const PRODUCTION_JOBS = { poll_interval_ms: 500, lease_s: 30, backoff_base_s: 5 };
const BARE_SERVER = fileURLToPath(new URL('./bare-upload-server.ts', import.meta.url));

/** One measured upload. */
interface UploadRun {
  seconds: number;
  mb_per_s: number;
  /** CPU of the receiving server process(es) during the upload. */
  server_cpu_s: number;
  /** CPU of this (client) process during the upload. */
  client_cpu_s: number;
  /** CPU the rest of the machine used meanwhile (other work competing for the cores). */
  other_cpu_s: number;
  rss_before_mb: number;
  rss_peak_mb: number;
  rss_growth_mb: number;
}

async function makeRandomFile(file: string, mib: number): Promise<void> {
  const block = randomBytes(MIB);
  const out = createWriteStream(file);
  for (let i = 0; i < mib; i++) {
    if (!out.write(block)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Flushes dirty pages, so one upload's writeback does not land in the next one's time. */
function flushDisks(): void {
  spawnSync('sync');
}

/** Samples the RSS of some processes while `work` runs; peak and baseline per process. */
async function measured(pids: number[], work: () => Promise<{ startedAt: number; completedAt: number; bytes: number }>): Promise<UploadRun> {
  await waitForQuietMachine(QUIET_LOAD_CORES, 60_000);
  const before = new Map(pids.map((pid) => [pid, memory(pid)]));
  const peak = new Map(pids.map((pid) => [pid, before.get(pid)!.rss]));
  const sample = () => {
    for (const pid of pids) peak.set(pid, Math.max(peak.get(pid)!, memory(pid).rss));
  };
  const cpuBefore = pids.map((pid) => cpuTimes(pid).self);
  const clientBefore = cpuTimes('self').self;
  const machineBefore = machineCpu().busy;
  const timer = setInterval(sample, 50);
  let result;
  try {
    result = await work();
  } finally {
    clearInterval(timer);
  }
  sample();
  const serverCpu = pids.reduce((sum, pid, i) => sum + cpuTimes(pid).self - cpuBefore[i]!, 0);
  const clientCpu = cpuTimes('self').self - clientBefore;
  const machine = machineCpu().busy - machineBefore;
  // The process that grew most is the one that took the upload.
  let growth = -Infinity;
  let base = 0;
  let top = 0;
  for (const pid of pids) {
    const b = before.get(pid)!;
    const hwm = memory(pid).hwm;
    const p = hwm > b.hwm ? hwm : peak.get(pid)!;
    if (p - b.rss > growth) {
      growth = p - b.rss;
      base = b.rss;
      top = p;
    }
  }
  const seconds = (result.completedAt - result.startedAt) / 1000;
  return {
    seconds,
    mb_per_s: result.bytes / seconds / 1e6,
    server_cpu_s: serverCpu,
    client_cpu_s: clientCpu,
    other_cpu_s: Math.max(0, machine - serverCpu - clientCpu),
    rss_before_mb: base / 1e6,
    rss_peak_mb: top / 1e6,
    rss_growth_mb: growth / 1e6,
  };
}

/** The bare server as a child process; resolves once it listens. */
async function startBareServer(dir: string): Promise<{ url: string; process: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', BARE_SERVER, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`the bare server exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    process: child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** A plain streamed PUT of the file. */
async function plainPut(url: string, file: string): Promise<{ startedAt: number; completedAt: number; bytes: number }> {
  const { size } = await stat(file);
  const startedAt = Date.now();
  await new Promise<void>((resolve, reject) => {
    const req = request(`${url}/raw/bench.bin`, { method: 'PUT', headers: { 'content-length': size } }, (res) => {
      res.resume();
      res.once('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`PUT answered ${res.statusCode}`))));
    });
    req.once('error', reject);
    createReadStream(file).pipe(req);
  });
  return { startedAt, completedAt: Date.now(), bytes: size };
}

async function emptyDir(dir: string): Promise<void> {
  for (const f of await readdir(dir)) await rm(join(dir, f), { force: true });
}

/** The supervisor's children that run the HTTP role (cluster.ts sets FRAMECAST_PROCESS_ROLE). */
function httpPids(server: TestServer, mediaPid: number): number[] {
  return childrenOf(server.process.pid!).filter((pid) => {
    if (pid === mediaPid) return false;
    try {
      return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('FRAMECAST_PROCESS_ROLE=http');
    } catch {
      return false;
    }
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'size-mib': { type: 'string', default: '1024' }, runs: { type: 'string', default: '3' } },
  });
  const mib = Number(values['size-mib']);
  const runs = Math.max(1, Number(values.runs));
  const work = await mkdtemp(join(tmpdir(), 'framecast-bench-upload-'));
  const file = join(work, 'random.bin');
  const bareDir = join(work, 'bare');
  let bare: Awaited<ReturnType<typeof startBareServer>> | undefined;
  let node: TestServer | undefined;
  try {
    process.stderr.write(`writing ${mib} MiB of random bytes…\n`);
    await makeRandomFile(file, mib);
    await mkdir(bareDir);
    flushDisks();

    bare = await startBareServer(bareDir);
    node = await startServer({ config: { jobs: PRODUCTION_JOBS } });
    const mediaPid = await node.mediaPid();
    const nodePids = httpPids(node, mediaPid);
    if (nodePids.length === 0) throw new Error('found no Framecast HTTP process');
    const client = api(node.url, node.adminToken);

    // A first request through a fresh process pays for JIT and heap growth: warm each path up.
    process.stderr.write(`warming up each server with a ${WARMUP_MIB} MiB upload…\n`);
    const warmup = join(work, 'warmup.bin');
    await makeRandomFile(warmup, WARMUP_MIB);
    await uploadFile(`${bare.url}/tus`, warmup);
    await plainPut(bare.url, warmup);
    const warm = await uploadFile(`${node.url}/v1/uploads`, warmup, {
      headers: { authorization: `Bearer ${node.adminToken}` },
      metadata: { filename: 'warmup.bin' },
    });
    if (warm.videoId) await waitForVideo(client, warm.videoId);
    await emptyDir(bareDir);
    await rm(warmup);
    flushDisks();

    const results: { bare_tus: UploadRun; bare_put: UploadRun; framecast: UploadRun; framecast_error: string | null }[] = [];
    for (let i = 0; i < runs; i++) {
      process.stderr.write(`run ${i + 1}/${runs}: bare server, tus-js-client…\n`);
      const bareTus = await measured([bare.process.pid!], () => uploadFile(`${bare!.url}/tus`, file));
      await emptyDir(bareDir);
      flushDisks();
      process.stderr.write(`  ${fmt(bareTus.mb_per_s, 0)} MB/s; bare server, plain PUT…\n`);
      const barePut = await measured([bare.process.pid!], () => plainPut(bare!.url, file));
      await emptyDir(bareDir);
      flushDisks();
      process.stderr.write(`  ${fmt(barePut.mb_per_s, 0)} MB/s; Framecast, tus-js-client…\n`);
      let videoId: string | null = null;
      const framecast = await measured(nodePids, async () => {
        const up = await uploadFile(`${node!.url}/v1/uploads`, file, {
          headers: { authorization: `Bearer ${node!.adminToken}` },
          metadata: { filename: 'random.bin', title: 'upload benchmark' },
        });
        videoId = up.videoId;
        return up;
      });
      if (!videoId) throw new Error('the upload response named no video');
      const video = await waitForVideo(client, videoId);
      process.stderr.write(`  ${fmt(framecast.mb_per_s, 0)} MB/s; the node answered ${video.status} ${video.error?.code ?? ''}\n`);
      flushDisks();
      results.push({ bare_tus: bareTus, bare_put: barePut, framecast, framecast_error: video.error?.code ?? null });
    }

    const med = (pick: (r: (typeof results)[number]) => number) => median(results.map(pick));
    const ratio = med((r) => r.framecast.mb_per_s / r.bare_tus.mb_per_s);
    const growth = Math.max(...results.map((r) => r.framecast.rss_growth_mb));
    // When the client is the bottleneck, throughputs tie; the servers' own cost still differs.
    const cpuRatio = med((r) => r.framecast.server_cpu_s / r.bare_tus.server_cpu_s);
    const machine = { cpus: availableParallelism(), cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version };
    const row = (name: string, pick: (r: (typeof results)[number]) => UploadRun) => [
      name,
      fmt(med((r) => pick(r).mb_per_s), 0),
      fmt(med((r) => pick(r).seconds)),
      fmt(med((r) => pick(r).server_cpu_s)),
      fmt(med((r) => pick(r).client_cpu_s)),
      fmt(med((r) => pick(r).other_cpu_s)),
      fmt(med((r) => pick(r).rss_growth_mb), 1),
    ];
    const out: string[] = [];
    out.push(`## Upload: ${mib} MiB over loopback, one tus PATCH (tus-js-client, file stream)`);
    out.push('');
    out.push(
      `${machine.cpus} cores (${machine.cpu_model}), Node ${machine.node}; ${runs > 1 ? `medians of ${runs} runs` : '1 run'}; ` +
        `Framecast with ${nodePids.length} HTTP process(es); after a ${WARMUP_MIB} MiB warm-up upload to each; reference first, then Framecast.`,
    );
    out.push('');
    out.push(
      markdownTable(
        ['server', 'MB/s', 'time (s)', 'server CPU (s)', 'client CPU (s)', 'other CPU on the machine (s)', 'server RSS growth (MB)'],
        [
          row('bare Node server, tus-js-client (reference)', (r) => r.bare_tus),
          row('bare Node server, plain http PUT', (r) => r.bare_put),
          row('Framecast node, tus-js-client', (r) => r.framecast),
        ],
      ),
    );
    out.push('');
    out.push(
      markdownTable(
        ['target', 'measured', 'bound', 'result'],
        [
          ['throughput vs bare server (tus)', `${fmt(ratio, 3)}×`, `≥ ${TARGET_THROUGHPUT_RATIO}×`, verdict(ratio, TARGET_THROUGHPUT_RATIO, 'min')],
          ['Framecast HTTP process RSS growth', `${fmt(growth, 1)} MB`, `≤ ${TARGET_RSS_GROWTH_MB} MB`, verdict(growth, TARGET_RSS_GROWTH_MB, 'max')],
          ['server CPU per byte vs bare server (tus)', `${fmt(cpuRatio, 3)}×`, '— (no target)', 'info'],
        ],
      ),
    );
    const otherCores = Math.max(...results.flatMap((r) => [r.bare_tus, r.bare_put, r.framecast].map((u) => u.other_cpu_s / u.seconds)));
    if (otherCores > QUIET_LOAD_CORES) {
      out.push('');
      out.push(`WARNING: other work used up to ${fmt(otherCores)} cores during an upload; the machine was not quiet and throughputs are skewed.`);
    }
    out.push('');
    out.push(`The node refused the random bytes as expected: ${results.map((r) => r.framecast_error ?? 'no error').join(', ')}.`);
    process.stdout.write(`${out.join('\n')}\n`);

    const json = await writeResults('upload', {
      date: new Date().toISOString(),
      machine,
      params: { size_mib: mib, runs, framecast_http_processes: nodePids.length, jobs: PRODUCTION_JOBS },
      targets: { throughput_ratio_min: TARGET_THROUGHPUT_RATIO, rss_growth_mb_max: TARGET_RSS_GROWTH_MB },
      summary: {
        bare_tus_mb_per_s: med((r) => r.bare_tus.mb_per_s),
        bare_put_mb_per_s: med((r) => r.bare_put.mb_per_s),
        framecast_mb_per_s: med((r) => r.framecast.mb_per_s),
        throughput_ratio: ratio,
        server_cpu_ratio: cpuRatio,
        framecast_rss_growth_mb_max: growth,
      },
      runs: results,
    });
    process.stdout.write(`\nJSON: ${json}\n`);
  } finally {
    await node?.stop();
    await bare?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
