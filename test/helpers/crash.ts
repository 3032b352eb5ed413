/**
 * Helpers for crash tests: `kill -9` a whole node (supervisor and every process below it),
 * find its media process, restart it on the same data dir and port, and look at a video
 * the way a viewer would (is what the API points at really there, whole?).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Api } from './api.js';
import { startServer, type StartOptions, type TestServer } from './server.js';

interface ProcInfo {
  pid: number;
  ppid: number;
  /** One-letter state from /proc/<pid>/stat (Z: zombie, holds no port or file). */
  state: string;
}

async function processTable(): Promise<ProcInfo[]> {
  const out: ProcInfo[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    if (!stat) continue;
    // Fields after the parenthesised command name (which may hold spaces): state, ppid, …
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.push({ pid: Number(name), ppid: Number(ppid), state: state ?? '?' });
  }
  return out;
}

async function descendants(root: number): Promise<number[]> {
  const table = await processTable();
  const found = new Set<number>();
  let frontier = [root];
  while (frontier.length) {
    const next = table.filter((p) => frontier.includes(p.ppid) && !found.has(p.pid)).map((p) => p.pid);
    next.forEach((p) => found.add(p));
    frontier = next;
  }
  return [...found];
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return !!stat && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

/**
 * `kill -9` of the whole node, as a power cut or an OOM kill of its cgroup would do: the
 * tree is frozen first (SIGSTOP, so nothing forks or restarts a child meanwhile), then
 * every process in it is SIGKILLed. Resolves once none of them runs (zombies aside), so
 * no orphan ffmpeg or HTTP process is left holding the port. Returns the pids killed.
 */
export async function killNode(server: TestServer, freezeFirst: number[] = []): Promise<number[]> {
  const root = server.process.pid!;
  // Known pids (the media process) stop before /proc is scanned: the kill lands where it was aimed.
  for (const pid of freezeFirst) signal(pid, 'SIGSTOP');
  const tree = new Set<number>([root, ...freezeFirst]);
  signal(root, 'SIGSTOP');
  for (let stable = false; !stable; ) {
    stable = true;
    for (const pid of await descendants(root)) {
      if (tree.has(pid)) continue;
      stable = false;
      tree.add(pid);
      signal(pid, 'SIGSTOP');
    }
  }
  for (const pid of tree) signal(pid, 'SIGKILL');
  for (const pid of tree) while (await alive(pid)) await new Promise((r) => setTimeout(r, 20));
  return [...tree];
}

/** SIGKILLs the media process only (job runner + its ffmpeg children live on until reaped). */
export async function killMedia(server: TestServer): Promise<number> {
  const pid = await mediaProcess(server);
  signal(pid, 'SIGKILL');
  return pid;
}

/** The live media process of a node, found from /proc (media.pid may be stale after a crash). */
export async function mediaProcess(server: TestServer): Promise<number> {
  for (let i = 0; i < 300; i++) {
    for (const p of (await processTable()).filter((p) => p.ppid === server.process.pid && p.state !== 'Z')) {
      const env = await readFile(`/proc/${p.pid}/environ`, 'utf8').catch(() => '');
      if (env.split('\0').includes('FRAMECAST_PROCESS_ROLE=media')) return p.pid;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no media process');
}

/** Starts the node again on the data dir of `previous` (on a new port). */
export async function restartNode(previous: TestServer, opts: Omit<StartOptions, 'dataDir'> = {}): Promise<TestServer> {
  return startServer({ ...opts, dataDir: previous.dataDir });
}

/** The same URL path on another node (a tus upload URL after a restart on a new port). */
export function onNode(url: string, server: TestServer): string {
  const u = new URL(url, server.url);
  return new URL(u.pathname + u.search, server.url).href;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

/**
 * True once nothing listens on the port any more (no orphan kept it). Waits a little: a
 * killed multi-threaded process shows as a zombie before its last thread let go of its fds.
 */
export async function portIsFree(url: string, waitMs = 15_000): Promise<boolean> {
  const port = Number(new URL(url).port);
  const deadline = Date.now() + waitMs;
  while (!(await canListen(port))) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

export async function sha1(data: Buffer | string): Promise<string> {
  return createHash('sha1')
    .update(typeof data === 'string' ? await readFile(data) : data)
    .digest('hex');
}

/** Where the fs object store keeps a version's uploaded source. */
export function storedSource(dataDir: string, videoId: string, version: number): string {
  return join(dataDir, 'objects', 'sources', videoId, `v${version}`, 'source');
}

/** What a viewer saw in one look at a video. */
export type ViewerLook =
  | { kind: 'down' }
  | { kind: 'seen'; video: any; problems: string[] };

/**
 * One look at a video as a viewer: GET /v1/videos/:id, then its master playlist and every
 * rendition playlist it names must answer 200.
 * `down` when the node did not answer (it is being killed or restarted).
 */
export async function lookAtVideo(baseUrl: string, a: Api, id: string): Promise<ViewerLook> {
  try {
    const r = await a.json('GET', `/v1/videos/${id}`);
    if (r.status !== 200) return { kind: 'seen', video: r.body, problems: [`GET video → ${r.status}`] };
    const video = r.body;
    const problems: string[] = [];
    const hls: string | null = video.playback?.hls_url ?? null;
    if (!hls) return { kind: 'seen', video, problems };
    if (!hls.includes(`/v${video.version}/`)) problems.push(`version ${video.version} but hls_url ${hls}`);
    const master = await fetch(new URL(hls, baseUrl));
    const text = await master.text();
    if (master.status !== 200) return { kind: 'seen', video, problems: [...problems, `v${video.version} master → ${master.status}`] };
    const variants = text.split('\n').filter((l) => l.trim().endsWith('.m3u8') && !l.startsWith('#'));
    if (!variants.length) problems.push(`v${video.version} master names no rendition`);
    for (const v of variants) {
      // Not checked: ENDLIST. The origin may serve a growing playlist up to its mutable TTL after publish.
      const media = await fetch(new URL(v.trim(), master.url));
      await media.arrayBuffer();
      if (media.status !== 200) problems.push(`v${video.version} ${v} → ${media.status}`);
    }
    return { kind: 'seen', video, problems };
  } catch {
    return { kind: 'down' };
  }
}

/** Status of a playback URL, or null when the node did not answer. */
export async function statusOf(url: string): Promise<number | null> {
  try {
    const r = await fetch(url);
    await r.arrayBuffer();
    return r.status;
  } catch {
    return null;
  }
}
