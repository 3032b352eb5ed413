/**
 * Starts a real Framecast node (supervisor + HTTP + media processes) on 127.0.0.1 with a
 * temporary data dir, exactly as `npm start` would (see entry.ts: the build, or the sources).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { programArgs } from './entry.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

export interface TestServer {
  url: string;
  adminToken: string;
  dataDir: string;
  process: ChildProcess;
  /** Everything the node printed (JSON log lines). */
  logs(): string;
  /** PID of the media process (job runner + ffmpeg). */
  mediaPid(): Promise<number>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Config merged over config/default.yaml (written to a user config file). */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  /** Keep the data dir (e.g. to restart on it). */
  dataDir?: string;
  /** Wait for /readyz too (default true). */
  waitReady?: boolean;
  /** How long the node may take to answer (default 150 s). */
  readyTimeoutMs?: number;
  /** node's own flags, before the program (e.g. `--max-old-space-size=…`, as an operator may start it). */
  nodeArgs?: string[];
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** A UDP port free on 127.0.0.1 (the SRT ingest's). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((res, rej) => {
    socket.once('error', rej);
    socket.bind(0, '127.0.0.1', () => res());
  });
  const port = socket.address().port;
  await new Promise<void>((res) => socket.close(() => res()));
  return port;
}

/** Test-speed defaults: one HTTP process, fast x264 preset, quick polling. */
const TEST_CONFIG = {
  transcode: { preset: 'ultrafast' },
  jobs: { poll_interval_ms: 100, backoff_base_s: 0.2, lease_s: 3 },
  log_level: 'info',
};

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      cur && typeof cur === 'object' && !Array.isArray(cur) && v && typeof v === 'object' && !Array.isArray(v)
        ? merge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'framecast-test-')));
  await mkdir(dataDir, { recursive: true });
  const port = await freePort();
  const adminToken = 'test-admin-token';
  const configFile = join(dataDir, 'test-config.yaml');
  await writeFile(configFile, stringify(merge(TEST_CONFIG, opts.config ?? {})));
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...programArgs('core/main.ts'), '--config', configFile], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      FRAMECAST_HTTP_PORT: String(port),
      FRAMECAST_HTTP_HOST: '127.0.0.1',
      FRAMECAST_RTMP_PORT: String(await freePort()),
      FRAMECAST_SRT_PORT: String(await freeUdpPort()),
      FRAMECAST_DATA_DIR: dataDir,
      FRAMECAST_WORKERS: '1',
      FRAMECAST_ADMIN_TOKEN: adminToken,
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const url = `http://127.0.0.1:${port}`;

  // Generous: on a loaded 2-core machine a node started from source can take a minute;
  // FRAMECAST_TEST_READY_S waits longer still on a machine shared by many test runs.
  const deadline = Date.now() + (opts.readyTimeoutMs ?? Number(process.env.FRAMECAST_TEST_READY_S ?? 150) * 1000);
  const path = opts.waitReady === false ? '/healthz' : '/readyz';
  for (;;) {
    if (child.exitCode !== null) throw new Error(`framecast exited with ${child.exitCode}:\n${output.slice(-4000)}`);
    try {
      const r = await fetch(url + path);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`framecast did not become ready:\n${output.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    url,
    adminToken,
    dataDir,
    process: child,
    logs: () => output,
    async mediaPid() {
      for (let i = 0; i < 100; i++) {
        try {
          return Number((await readFile(join(dataDir, 'run', 'media.pid'), 'utf8')).trim());
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error('no media.pid');
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** How a node that was expected to refuse to start ended. */
export interface RefusedStart {
  code: number | null;
  output: string;
}

/**
 * Runs a node that should refuse to start and returns its exit code and output. `wrap`
 * prefixes the command (e.g. `setpriv` to run as another user); a node still running after
 * `timeoutMs` is killed (code null), which a test then reports as "did not refuse".
 */
export async function runRefusedStart(env: Record<string, string>, opts: { wrap?: string[]; timeoutMs?: number } = {}): Promise<RefusedStart> {
  const [command = process.execPath, ...prefix] = opts.wrap ? [...opts.wrap, process.execPath] : [process.execPath];
  const child = spawn(command, [...prefix, ...programArgs('core/main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, FRAMECAST_WORKERS: '1', FRAMECAST_RTMP_PORT: String(await freePort()), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  clearTimeout(timer);
  return { code, output };
}
