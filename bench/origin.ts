/**
 * Origin benchmark: Framecast's caching origin against nginx and a bare Node server
 * (bench/bare-origin-server.ts) serving the same published version directory, same machine,
 * same run, with wrk.
 *
 *   node --import tsx bench/origin.ts [-- --seconds 10 --rounds 3 --workers 2]
 *
 * Scenarios (hot: both servers are warmed up first, so Framecast serves from memory and
 * nginx from the page cache):
 *   segment   a ~1 MB fMP4 segment, 32 connections
 *   playlist  a ~2 KB media playlist, 64 connections
 * Rounds: every server runs once per round, in an order that rotates from round to round, so
 * each comparison is between runs minutes apart at most; a ratio is the median over rounds
 * of Framecast's requests/s over the reference's in the same round (one 10 s run of a
 * server here varies by ±10 % from the next: one run each decides nothing at 0.9).
 * Targets: segments ≥ 1.0× nginx's requests/s; playlists ≥ 0.5× nginx and ≥ 0.9× a bare
 * Node server returning the same bytes (as many processes as Framecast's HTTP processes:
 * a Map lookup, writeHead, end, with the very headers Framecast sends for that URL, read
 * once from it), which shows what the origin's own work costs over Node's floor. The bare
 * server also runs with only its own two headers (Content-Type, Content-Length; no target):
 * what the eleven headers a player is owed (CORS, validators, caching, nosniff) cost.
 *
 * Framecast runs as `npm start` would (the cluster supervisor with `--workers` HTTP
 * processes, default 2 = this machine's cores) from source under tsx; nginx (Debian's
 * nginx-light) with sendfile, 2 workers, keep-alive, no access log, on a loopback port, its
 * config in a temp dir. wrk runs 2 threads and competes with the servers for the same
 * cores, equally for both. Plain requests (no Accept-Encoding): both send identity bytes.
 * wrk and nginx are installed with apt-get when missing (benchmarks only; never tests).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { api, tusUpload, waitForVideo } from '../test/helpers/api.js';
import { makeClip } from '../test/helpers/media-fixtures.js';
import { freePort, startServer, type TestServer } from '../test/helpers/server.js';
import { startBareServer } from './bare-process.js';
import { childrenOf, cpuTimes, memory } from './proc-stats.js';
import { fmt, markdownTable, verdict, writeResults } from './report.js';

const MB = 1_000_000;
const SERVERS = ['framecast', 'nginx', 'bare', 'bare-headers'] as const;
type ServerName = (typeof SERVERS)[number];
/** Framecast's requests/s over each reference's, at least. */
const TARGETS = { segment: { nginx: 1.0 }, playlist: { nginx: 0.5, 'bare-headers': 0.9 } } as const satisfies Record<string, Partial<Record<ServerName, number>>>;
type Scenario = keyof typeof TARGETS;
const REFERENCES = ['nginx', 'bare', 'bare-headers'] as const;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: String(availableParallelism()) },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Math.max(1, Number(args.rounds));
const WORKERS = Number(args.workers);

/** One wrk run. */
interface WrkResult {
  requests_per_s: number;
  /** CPU (user + system) the server's processes spent per request, in µs: steadier than req/s on a busy machine. */
  server_cpu_us_per_request?: number;
  /** The same per process (the first is the supervisor or master): where the time goes. */
  cpu_us_per_request_by_process?: number[];
  transfer_mb_per_s: number;
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
  errors: number;
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function ensureTools(): void {
  const missing = [have('wrk') ? null : 'wrk', have('nginx') ? null : 'nginx-light'].filter((p): p is string => p !== null);
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(', ')} with apt-get …`);
  const r = spawnSync('apt-get', ['install', '-y', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed`);
}

function ms(value: string, unit: string): number {
  return Number(value) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[unit]!;
}

function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`unexpected wrk output:\n${out}`);
  const transfer = /Transfer\/sec:\s+([\d.]+)([KMG]?B)/.exec(out);
  const scale = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 } as Record<string, number>;
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    return m ? ms(m[1]!, m[2]!) : null;
  };
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests_per_s: Number(rps[1]),
    transfer_mb_per_s: transfer ? (Number(transfer[1]) * scale[transfer[2]!]!) / MB : NaN,
    latency_p50_ms: pct('50'),
    latency_p99_ms: pct('99'),
    errors: Number(non2xx?.[1] ?? 0) + (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

async function wrk(url: string, connections: number, seconds: number): Promise<WrkResult> {
  const child = spawn('wrk', ['-t2', `-c${connections}`, `-d${seconds}s`, '--latency', url], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((res) => child.once('exit', res));
  if (code !== 0) throw new Error(`wrk exited with ${code}:\n${out}`);
  return parseWrk(out);
}

async function startNginx(root: string, dir: string): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 2;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  types { application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; }
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  client_body_temp_path ${join(dir, 'tmp')};
  proxy_temp_path ${join(dir, 'tmp')};
  fastcgi_temp_path ${join(dir, 'tmp')};
  uwsgi_temp_path ${join(dir, 'tmp')};
  scgi_temp_path ${join(dir, 'tmp')};
  server {
    listen 127.0.0.1:${port};
    location /media/ { alias ${root}/; }
  }
}
`,
  );
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', conf], { stdio: ['ignore', 'inherit', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}`);
    try {
      await fetch(`${url}/`);
      break;
    } catch {
      if (i > 100) throw new Error('nginx did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGQUIT');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** Every file under a directory with its size, as paths relative to it. */
async function filesUnder(root: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    out.push({ path: relative(root, full), size: (await stat(full)).size });
  }
  return out;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A server's runs over the rounds, as one: medians of each figure, errors summed. */
function medianRun(runs: WrkResult[]): WrkResult {
  const of = (pick: (r: WrkResult) => number | null | undefined) => {
    const values = runs.map(pick).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    return values.length ? median(values) : null;
  };
  return {
    requests_per_s: of((r) => r.requests_per_s)!,
    server_cpu_us_per_request: of((r) => r.server_cpu_us_per_request) ?? undefined,
    cpu_us_per_request_by_process: runs[0]!.cpu_us_per_request_by_process?.map((_, i) => of((r) => r.cpu_us_per_request_by_process?.[i])!),
    transfer_mb_per_s: of((r) => r.transfer_mb_per_s)!,
    latency_p50_ms: of((r) => r.latency_p50_ms),
    latency_p99_ms: of((r) => r.latency_p99_ms),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
  };
}

function closest<T extends { size: number }>(items: T[], size: number): T {
  return items.reduce((best, f) => (Math.abs(f.size - size) < Math.abs(best.size - size) ? f : best));
}

/** RSS (MB) of the node's HTTP processes: the supervisor's children other than the media process. */
async function httpRss(server: TestServer): Promise<number[]> {
  const media = await server.mediaPid();
  return childrenOf(server.process.pid!)
    .filter((pid) => pid !== media)
    .map((pid) => memory(pid).rss / MB);
}

ensureTools();
const work = await mkdtemp(join(tmpdir(), 'framecast-bench-origin-'));
let server: TestServer | undefined;
let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
let bare: Awaited<ReturnType<typeof startBareServer>> | undefined;
let bareHeaders: Awaited<ReturnType<typeof startBareServer>> | undefined;
try {
  server = await startServer({ config: { log_level: 'warn' }, env: { FRAMECAST_WORKERS: String(WORKERS) } });
  const admin = api(server.url, server.adminToken);
  console.log('making the media (a 1080p clip for ~1 MB segments, a 90 s 360p clip for a ~2 KB playlist) …');
  const upload = async (opts: Parameters<typeof makeClip>[1]) => {
    const file = await makeClip(work, opts);
    const up = await tusUpload(server!.url, file, { token: server!.adminToken, metadata: { filename: opts.name ?? 'clip.mp4' } });
    const video = await waitForVideo(admin, up.videoId!, undefined, 600_000);
    if (video.status !== 'ready') throw new Error(`transcode failed: ${JSON.stringify(video.error)}`);
    return up.videoId!;
  };
  const hd = await upload({ width: 1920, height: 1080, seconds: 6, name: 'hd.mp4' });
  const long = await upload({ width: 640, height: 360, seconds: 90, name: 'long.mp4' });
  const mediaRoot = join(server.dataDir, 'objects', 'media');
  const hdFiles = (await filesUnder(join(mediaRoot, hd, 'v1'))).filter((f) => f.path.endsWith('.m4s'));
  const longFiles = (await filesUnder(join(mediaRoot, long, 'v1'))).filter((f) => f.path.endsWith('.m3u8') && f.path.includes('/'));
  const segment = closest(hdFiles, 1024 * 1024);
  const playlist = closest(longFiles, 2048);
  const picks: Record<Scenario, { path: string; size: number; connections: number }> = {
    segment: { path: `${hd}/v1/${segment.path}`, size: segment.size, connections: 32 },
    playlist: { path: `${long}/v1/${playlist.path}`, size: playlist.size, connections: 64 },
  };

  nginx = await startNginx(mediaRoot, work);
  bare = await startBareServer('bare-origin-server.ts', [mediaRoot, String(WORKERS)]);
  // The same server answering with Framecast's own headers: what they cost, apart from its work.
  bareHeaders = await startBareServer('bare-origin-server.ts', [mediaRoot, String(WORKERS), server.url]);
  const targets: Record<ServerName, string> = { framecast: server.url, nginx: nginx.url, bare: bare.url, 'bare-headers': bareHeaders.url };
  // Each server's processes: Framecast's supervisor and HTTP processes (not the idle media process).
  const media = await server.mediaPid();
  const framecastPid = server.process.pid!;
  const nginxPid = nginx.pid;
  const barePid = bare.pid;
  const bareHeadersPid = bareHeaders.pid;
  const serverPids: Record<ServerName, () => number[]> = {
    framecast: () => [framecastPid, ...childrenOf(framecastPid).filter((pid) => pid !== media)],
    nginx: () => [nginxPid, ...childrenOf(nginxPid)],
    bare: () => [barePid, ...childrenOf(barePid)],
    'bare-headers': () => [bareHeadersPid, ...childrenOf(bareHeadersPid)],
  };
  // Same bytes from every server, or the comparison means nothing.
  for (const pick of Object.values(picks)) {
    const bodies = await Promise.all(Object.values(targets).map(async (base) => Buffer.from(await (await fetch(`${base}/media/${pick.path}`)).arrayBuffer())));
    if (bodies.some((b) => b.length !== pick.size || !b.equals(bodies[0]!))) throw new Error(`the servers disagree on ${pick.path}`);
  }

  const results: Record<Scenario, Record<ServerName, WrkResult> & { bytes: number; file: string; connections: number; rounds: Record<ServerName, WrkResult>[] }> = {} as never;
  const rssBefore = await httpRss(server);
  const names = Object.keys(targets) as ServerName[];
  for (const scenario of Object.keys(TARGETS) as Scenario[]) {
    const pick = picks[scenario];
    const url = (name: ServerName) => `${targets[name]}/media/${pick.path}`;
    for (const name of names) await wrk(url(name), pick.connections, 2); // warm-up: caches, JIT, connections
    const rounds: Record<ServerName, WrkResult>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const runs = {} as Record<ServerName, WrkResult>;
      // Rotated, so no server always runs right after the same one or always first.
      for (const name of [...names.slice(round % names.length), ...names.slice(0, round % names.length)]) {
        const pids = serverPids[name]();
        const cpuBefore = pids.map((pid) => cpuTimes(pid).self);
        const run = await wrk(url(name), pick.connections, SECONDS);
        const perRequest = (cpuS: number) => (cpuS * 1e6) / (run.requests_per_s * SECONDS);
        run.cpu_us_per_request_by_process = pids.map((pid, i) => perRequest(cpuTimes(pid).self - cpuBefore[i]!));
        run.server_cpu_us_per_request = run.cpu_us_per_request_by_process.reduce((a, b) => a + b, 0);
        runs[name] = run;
        console.log(`${scenario} round ${round + 1}/${ROUNDS}: ${name} ${fmt(run.requests_per_s, 0)} req/s, CPU µs/request by process ${run.cpu_us_per_request_by_process.map((v) => fmt(v, 1)).join(' / ')}`);
      }
      rounds.push(runs);
    }
    const row = { bytes: pick.size, file: pick.path, connections: pick.connections, rounds } as (typeof results)[Scenario];
    for (const name of names) row[name] = medianRun(rounds.map((r) => r[name]));
    results[scenario] = row;
  }
  const rssAfter = await httpRss(server);
  const stats = (await admin.json('GET', '/v1/origin/stats')).body;

  /** Median over rounds of Framecast's req/s over the reference's in the same round. */
  const ratio = (scenario: Scenario, reference: ServerName) => median(results[scenario].rounds.map((r) => r.framecast.requests_per_s / r[reference].requests_per_s));
  const rows = (Object.keys(TARGETS) as Scenario[]).map((scenario) => {
    const r = results[scenario];
    const targets: Partial<Record<ServerName, number>> = TARGETS[scenario];
    const vs = (reference: ServerName) => {
      const target = targets[reference];
      return `${fmt(ratio(scenario, reference))}${target === undefined ? '' : ` (≥ ${fmt(target, 1)}: ${verdict(ratio(scenario, reference), target, 'min')})`}`;
    };
    return [
      scenario,
      `${fmt(r.bytes / 1024, 1)} KiB`,
      String(r.connections),
      ...SERVERS.map((name) => fmt(r[name].requests_per_s, 0)),
      ...REFERENCES.map(vs),
      SERVERS.map((name) => fmt(r[name].server_cpu_us_per_request, 1)).join(' / '),
      SERVERS.map((name) => fmt(r[name].latency_p99_ms, 1)).join(' / '),
      String(SERVERS.reduce((sum, name) => sum + r[name].errors, 0)),
    ];
  });
  const table = markdownTable(
    ['scenario', 'object', 'conns', 'Framecast req/s', 'nginx req/s', 'bare Node, 2 headers req/s', 'bare Node, same bytes req/s', 'vs nginx', 'vs bare Node, 2 headers', 'vs bare Node, same bytes', 'CPU µs/req (FC / nginx / bare 2 h / bare same)', 'p99 ms (FC / nginx / bare 2 h / bare same)', 'errors'],
    rows,
  );
  console.log(`\nOrigin, hot, ${ROUNDS} rounds of ${SECONDS} s per server (medians), ${(Object.keys(TARGETS) as Scenario[]).map((sc) => `${sc} vs bare Node (same bytes) by round ${results[sc].rounds.map((r) => fmt(r.framecast.requests_per_s / r['bare-headers'].requests_per_s)).join(' ')}`).join('; ')}, Framecast ${WORKERS} HTTP processes vs nginx 2 workers (sendfile) vs bare Node ${WORKERS} processes (the same bytes, and its own two headers), wrk -t2:\n`);
  console.log(table);
  console.log(`\nFramecast HTTP process RSS: ${rssBefore.map((v) => fmt(v, 0)).join(', ')} MB before, ${rssAfter.map((v) => fmt(v, 0)).join(', ')} MB after`);
  const file = await writeResults('origin', {
    date: new Date().toISOString(),
    machine: { cores: availableParallelism(), node: process.version },
    seconds: SECONDS,
    rounds: ROUNDS,
    framecast_workers: WORKERS,
    nginx_workers: 2,
    results,
    ratios: Object.fromEntries((Object.keys(TARGETS) as Scenario[]).map((s) => [s, Object.fromEntries(REFERENCES.map((ref) => [ref, ratio(s, ref)]))])),
    targets: TARGETS,
    framecast_http_rss_mb: { before: rssBefore, after: rssAfter },
    origin_stats_one_process: stats,
    table,
  });
  console.log(`\nwrote ${file}`);
} finally {
  await nginx?.stop();
  bare?.stop();
  bareHeaders?.stop();
  await server?.stop();
  await rm(work, { recursive: true, force: true });
}
