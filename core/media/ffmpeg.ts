/*
 * The ffmpeg binaries and how to run them on untrusted files.
 *
 * Finding the binaries: FFMPEG_PATH/FFPROBE_PATH, then the optional ffmpeg-static package,
 * then PATH. Anything older than ffmpeg 5 is refused (we rely on -fps_mode, ebur128's
 * framelog and the hls muxer's var_stream_map/fmp4 behaviour of 5.x).
 *
 * Untrusted input: demuxers such as hls, concat, image2 or the playlist formats open OTHER
 * files named inside the upload (a playlist pointing at /etc/passwd or at another user's
 * media). `-format_whitelist` is checked by avformat_open_input for the top-level demuxer
 * and inherited by every nested open, so an .m3u8 or an ffconcat list is refused with
 * "Format not on whitelist" before it reads anything it references (seen with ffmpeg
 * 5.1.9: both an HLS playlist naming /etc/passwd and a local .mp4, and a concat list naming
 * a local .mp4, were refused, also when renamed to .mp4). `-protocol_whitelist file` keeps
 * every open on local files, and the path is given as `file:ABS` so a ':' in a name cannot
 * select a protocol.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { setPriority } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Thrown when no usable ffmpeg ≥ 5 (with ffprobe) can be found. */
export class FfmpegUnavailableError extends Error {
  override name = 'FfmpegUnavailableError';
}

/** The binaries the media pipeline will run. */
export interface FfmpegBinaries {
  ffmpegPath: string;
  ffprobePath: string;
  /** Version string as printed by `ffmpeg -version`, e.g. "5.1.9-0+deb12u1". */
  version: string;
  major: number;
}

const MIN_MAJOR = 5;

/**
 * Demuxers accepted for uploads: real containers only. Not listed on purpose: hls, dash,
 * concat, image2 and every *_pipe image demuxer, lavfi, tty, playlists (m3u/pls/ffmetadata),
 * subtitle formats, raw elementary streams, gif/apng (images are not videos here).
 * Audio-only containers are listed: an mp3, flac, wav or ogg becomes an audio-only version.
 * A demuxer with several names ("mov,mp4,m4a,3gp,3g2,mj2") matches if one of them is here.
 */
export const SAFE_INPUT_FORMATS: readonly string[] = [
  'mov', // mp4, m4v, m4a, 3gp, 3g2, mj2, mov
  'matroska', // mkv, webm
  'avi',
  'flv',
  'mpegts',
  'mpeg', // MPEG-PS, VOB
  'ogg',
  'asf', // wmv, wma
  'mxf',
  'dv',
  'gxf',
  'nut',
  'wav',
  'mp3',
  'aac',
  'flac',
  'aiff',
  'caf',
];

/** Input arguments that open an untrusted file without letting it reach other files. */
export function safeInputArgs(file: string): string[] {
  return [
    '-protocol_whitelist',
    'file',
    '-format_whitelist',
    SAFE_INPUT_FORMATS.join(','),
    '-i',
    `file:${path.resolve(file)}`,
  ];
}

/** Parses the first line of `ffmpeg -version` ("ffmpeg version 5.1.9-0+deb12u1 …", "n6.0", "N-1234-g…"). */
export function parseFfmpegVersion(output: string): { version: string; major: number } | null {
  const m = /^ff(?:mpeg|probe) version (\S+)/m.exec(output);
  if (!m?.[1]) return null;
  const version = m[1];
  const num = /^n?(\d+)\.(\d+)/.exec(version);
  if (num?.[1]) return { version, major: Number(num[1]) };
  // Git snapshots ("N-109562-g…", "git-2023-…") are newer than any release we require.
  if (/^(N-|git-)/.test(version)) return { version, major: 99 };
  return null;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function findOnPath(name: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return null;
}

async function ffmpegStaticPath(): Promise<string | null> {
  // A variable specifier: the package is optional and may be missing at type-check time.
  const specifier = 'ffmpeg-static';
  try {
    const mod = (await import(specifier)) as { default?: unknown };
    return typeof mod.default === 'string' && (await isExecutable(mod.default)) ? mod.default : null;
  } catch {
    return null;
  }
}

function captureOutput(binary: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${binary} exited with ${code}`))));
  });
}

interface Candidate {
  from: string;
  ffmpeg: string;
  ffprobe: string | null;
}

async function candidates(env: NodeJS.ProcessEnv): Promise<Candidate[]> {
  const list: Candidate[] = [];
  const onPathProbe = await findOnPath('ffprobe', env);
  if (env.FFMPEG_PATH) {
    const besideProbe = path.join(path.dirname(env.FFMPEG_PATH), 'ffprobe');
    list.push({
      from: 'FFMPEG_PATH',
      ffmpeg: env.FFMPEG_PATH,
      ffprobe: env.FFPROBE_PATH ?? ((await isExecutable(besideProbe)) ? besideProbe : onPathProbe),
    });
  }
  const bundled = await ffmpegStaticPath();
  if (bundled) {
    const besideProbe = path.join(path.dirname(bundled), 'ffprobe');
    list.push({
      from: 'ffmpeg-static',
      ffmpeg: bundled,
      ffprobe: env.FFPROBE_PATH ?? ((await isExecutable(besideProbe)) ? besideProbe : onPathProbe),
    });
  }
  const onPath = await findOnPath('ffmpeg', env);
  if (onPath) list.push({ from: 'PATH', ffmpeg: onPath, ffprobe: env.FFPROBE_PATH ?? onPathProbe });
  return list;
}

/**
 * Finds ffmpeg and ffprobe (≥ 5): FFMPEG_PATH/FFPROBE_PATH, then ffmpeg-static, then PATH.
 * Throws FfmpegUnavailableError saying what was tried and how to fix it.
 */
export async function resolveFfmpeg(env: NodeJS.ProcessEnv = process.env): Promise<FfmpegBinaries> {
  const problems: string[] = [];
  for (const c of await candidates(env)) {
    let parsed: { version: string; major: number } | null;
    try {
      parsed = parseFfmpegVersion(await captureOutput(c.ffmpeg, ['-hide_banner', '-version']));
    } catch (err) {
      problems.push(`${c.from}: ${c.ffmpeg} does not run (${(err as Error).message})`);
      continue;
    }
    if (!parsed) {
      problems.push(`${c.from}: cannot read the version of ${c.ffmpeg}`);
      continue;
    }
    if (parsed.major < MIN_MAJOR) {
      problems.push(`${c.from}: ${c.ffmpeg} is version ${parsed.version}, ${MIN_MAJOR}.0 or newer is needed`);
      continue;
    }
    if (!c.ffprobe || !(await isExecutable(c.ffprobe))) {
      problems.push(`${c.from}: no ffprobe found beside ${c.ffmpeg} or on PATH`);
      continue;
    }
    return { ffmpegPath: c.ffmpeg, ffprobePath: c.ffprobe, ...parsed };
  }
  const tried = problems.length ? problems.join('; ') : 'FFMPEG_PATH is unset, ffmpeg-static is not installed, and there is no ffmpeg on PATH';
  throw new FfmpegUnavailableError(
    `no usable ffmpeg ${MIN_MAJOR}+ found (${tried}). Install it (Debian/Ubuntu: apt-get install ffmpeg) ` +
      'or set FFMPEG_PATH and FFPROBE_PATH to the binaries.',
  );
}

/** One `-progress` block, with the times in milliseconds (ffmpeg's "out_time_ms" is really µs). */
export interface FfmpegProgress {
  out_time_ms: number;
  /** Frames written for the first video output stream. */
  frame: number;
  /** "continue" or "end". */
  progress: string;
  /** Every key of the block as ffmpeg printed it. */
  raw: Record<string, string>;
}

export interface RunFfmpegOptions {
  /** Called per `-progress pipe:1` block; the args must contain `-progress pipe:1`. */
  onProgress?(p: FfmpegProgress): void;
  /** Called for every stderr line (e.g. to read filter summaries). */
  onStderrLine?(line: string): void;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Piped to ffmpeg's stdin (e.g. a live FLV feed read as `pipe:0`); stdin is closed otherwise. */
  stdin?: NodeJS.ReadableStream;
  /** Scheduling niceness of the child (0–19; higher yields the CPU to others, e.g. VOD below live). */
  niceness?: number;
  /**
   * Extra output pipes ffmpeg writes as `pipe:3`, `pipe:4`, … (e.g. one fragmented MP4 per
   * live rendition), handed to `onOutputPipes` as soon as the child is spawned.
   */
  outputPipes?: number;
  onOutputPipes?(pipes: Readable[]): void;
  /** Takes ffmpeg's stdout as bytes (e.g. FLV written to `pipe:1`); the run then resolves with "". */
  onStdout?(chunk: Buffer): void;
}

/** Why an ffmpeg run failed. */
export type FfmpegFailure = 'exit' | 'aborted' | 'timeout' | 'spawn';

/** A failed ffmpeg/ffprobe run; `stderrTail` holds the last ~4 KB of its stderr. */
export class FfmpegError extends Error {
  override name = 'FfmpegError';
  constructor(
    message: string,
    readonly reason: FfmpegFailure,
    readonly stderrTail: string,
    readonly exitCode: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const STDERR_TAIL_BYTES = 4096;

function parseProgressBlock(raw: Record<string, string>): FfmpegProgress {
  const us = Number(raw.out_time_us ?? raw.out_time_ms);
  return {
    out_time_ms: Number.isFinite(us) ? Math.max(0, Math.round(us / 1000)) : 0,
    frame: Number(raw.frame) || 0,
    progress: raw.progress ?? '',
    raw,
  };
}

/** Splits a stream into lines, keeping the partial last line for the next chunk. */
function lineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let rest = '';
  return (chunk) => {
    const parts = (rest + chunk).split(/\r?\n|\r/);
    rest = parts.pop() ?? '';
    for (const p of parts) onLine(p);
  };
}

/**
 * Runs ffmpeg (or ffprobe) to completion. Resolves with stdout (minus progress blocks when
 * onProgress is given); rejects with FfmpegError on non-zero exit, abort or timeout, after
 * the child is killed (SIGKILL), so no ffmpeg outlives its caller's interest.
 */
export function runFfmpeg(binary: string, args: string[], opts: RunFfmpegOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new FfmpegError(`${path.basename(binary)} aborted before start`, 'aborted', '', null));
      return;
    }
    const extra: 'pipe'[] = Array.from({ length: opts.outputPipes ?? 0 }, () => 'pipe');
    const child = spawn(binary, args, { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', ...extra] }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
    if (extra.length > 0) opts.onOutputPipes?.(child.stdio.slice(3) as Readable[]);
    if (opts.stdin && child.stdin) {
      // ffmpeg may exit before its input ends: the broken pipe is its exit status's business.
      child.stdin.on('error', () => undefined);
      opts.stdin.pipe(child.stdin);
    }
    if (opts.niceness && child.pid !== undefined) {
      try {
        setPriority(child.pid, opts.niceness);
      } catch {
        // Not permitted (or already gone): it runs at normal priority.
      }
    }
    let stderrTail = '';
    let stdout = '';
    let block: Record<string, string> = {};
    let stopped: FfmpegFailure | null = null;

    const onProgressLine = (line: string): void => {
      const eq = line.indexOf('=');
      if (eq < 0) return;
      const key = line.slice(0, eq).trim();
      block[key] = line.slice(eq + 1).trim();
      if (key === 'progress') {
        const p = parseProgressBlock(block);
        block = {};
        opts.onProgress?.(p);
      }
    };
    const progressLines = lineSplitter(onProgressLine);
    const onStdout = opts.onStdout;
    if (onStdout) child.stdout.on('data', (d: Buffer) => onStdout(d));
    else
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        if (opts.onProgress) progressLines(d);
        else stdout += d;
      });
    const stderrLines = opts.onStderrLine ? lineSplitter(opts.onStderrLine) : null;
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderrTail = (stderrTail + d).slice(-STDERR_TAIL_BYTES);
      stderrLines?.(d);
    });

    const stop = (reason: FfmpegFailure): void => {
      if (stopped) return;
      stopped = reason;
      child.kill('SIGKILL');
    };
    const onAbort = (): void => stop('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = opts.timeoutMs ? setTimeout(() => stop('timeout'), opts.timeoutMs) : null;
    const cleanup = (): void => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (timer) clearTimeout(timer);
    };

    child.on('error', (err) => {
      cleanup();
      reject(new FfmpegError(`cannot run ${binary}: ${err.message}`, 'spawn', stderrTail, null, { cause: err }));
    });
    child.on('close', (code, signal) => {
      cleanup();
      const name = path.basename(binary);
      if (stopped) {
        reject(new FfmpegError(`${name} ${stopped === 'timeout' ? 'timed out' : 'was aborted'}`, stopped, stderrTail, code));
      } else if (code !== 0) {
        const last = stderrTail.trim().split('\n').slice(-3).join(' | ');
        reject(new FfmpegError(`${name} exited with ${code ?? signal}: ${last}`, 'exit', stderrTail, code));
      } else {
        resolve(stdout);
      }
    });
  });
}
