/**
 * `framecast runner`: a transcoding machine that only makes outbound HTTP(S) calls to a
 * node and holds no database or storage credentials (protocol: ./protocol.ts).
 *
 * At start it proves its encoders with the same trial encodes as a worker
 * (core/media/hwaccel.ts) and, given a registration token, registers once and keeps the
 * runner token it gets in its state file. Then, one job at a time: long-poll for a job,
 * fetch the source through the job I/O seam (./job-io.ts), probe it, let the node accept the
 * probe (plugins) and name the ladder, encode with the workers' own transcode pool, upload
 * the outputs, say it is done. Progress doubles as the lease heartbeat; a 409 from the node
 * (lease lost, job revoked, video deleted) stops the job; a 401 (runner revoked) stops the
 * runner.
 */
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { AppError, toVideoError } from '../errors.js';
import type { Logger } from '../logger.js';
import { resolveFfmpeg } from '../media/ffmpeg.js';
import { detectEncoders } from '../media/hwaccel.js';
import { createTranscodePool, type TranscodePool } from '../media/pool.js';
import { probeSource } from '../media/probe.js';
import { inspectWatermarkImage, type WatermarkSpec } from '../media/watermark.js';
import { chunkOutputKey, partName, readKeyframes, wantsChunks } from '../media/chunk-plan.js';
import type { ProbeResult, Rung, TranscodeResult, VideoEncoder } from '../media/types.js';
import { signedUrlJobIo, type JobIo } from './job-io.js';
import { JOB_TOKEN_HEADER, type RunnerJobOffer } from './protocol.js';

/** A non-2xx answer from the node, with its error code. */
/** The offer's mark as a local file, checked like the node checks its own (inspectWatermarkImage). */
async function markOf(offer: RunnerJobOffer, workDir: string, bins: { ffmpegPath: string; ffprobePath: string }): Promise<WatermarkSpec | null> {
  const wanted = offer.transcode.watermark;
  if (!wanted) return null;
  const { image_base64, ...placement } = wanted;
  const file = join(workDir, 'watermark');
  await writeFile(file, Buffer.from(image_base64, 'base64'));
  return { ...placement, image: await inspectWatermarkImage(bins, file) };
}

export class NodeCallError extends Error {
  override name = 'NodeCallError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The runner's HTTP calls to its node. */
export class RunnerClient {
  constructor(
    readonly baseUrl: string,
    private token: string,
  ) {}

  useToken(token: string): void {
    this.token = token;
  }

  async call<T>(path: string, body: unknown, opts: { jobToken?: string; signal?: AbortSignal } = {}): Promise<T | undefined> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' };
    if (opts.jobToken) headers[JOB_TOKEN_HEADER] = opts.jobToken;
    const res = await fetch(new URL(path, this.baseUrl), { method: 'POST', headers, body: JSON.stringify(body), ...(opts.signal ? { signal: opts.signal } : {}) });
    if (res.status === 204) return undefined;
    const text = await res.text();
    if (!res.ok) {
      let code = 'E_INTERNAL';
      let message = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        code = parsed.error?.code ?? code;
        message = parsed.error?.message ?? message;
      } catch {
        /* not our error body */
      }
      throw new NodeCallError(res.status, code, `${path}: ${res.status} ${code}: ${message}`);
    }
    return JSON.parse(text) as T;
  }
}

export interface RemoteRunnerOptions {
  url: string;
  /** A registration token (`fcrr_…`: registers, then keeps the runner token) or a runner token (`fcr_…`). */
  token: string;
  name?: string | undefined;
  /** Where the runner token is kept (default ~/.framecast-runner-… under the work dir). */
  stateFile?: string | undefined;
  workDir?: string | undefined;
  /** Seconds a claim waits on the node for a job (long-poll). */
  waitS?: number;
  logger: Logger;
}

interface RunnerState {
  url: string;
  id: string;
  token: string;
}

const RETRY_MS = 2000;
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

async function listOutputs(dir: string): Promise<{ path: string; size: number }[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && !e.name.endsWith('.tmp')).map((e) => join(e.parentPath, e.name));
  return Promise.all(files.map(async (f) => ({ path: relative(dir, f).split('\\').join('/'), size: (await stat(f)).size })));
}

export class RemoteRunner {
  readonly #opts: RemoteRunnerOptions;
  readonly #log: Logger;
  readonly #client: RunnerClient;
  readonly #stop = new AbortController();
  #pool: TranscodePool | undefined;

  constructor(opts: RemoteRunnerOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.#client = new RunnerClient(opts.url, opts.token);
  }

  /** Stops claiming and aborts the running job (its lease then runs out on the node). */
  stop(): void {
    this.#stop.abort(new Error('the runner is stopping'));
  }

  /** Runs until stopped or revoked; resolves with the process exit code. */
  async run(): Promise<number> {
    const bins = await resolveFfmpeg();
    const detection = await detectEncoders(bins.ffmpegPath, 'auto');
    const encoders = detection.usable;
    this.#log.info({ encoders, tried: detection.tried.map((t) => ({ encoder: t.encoder, ok: t.ok })) }, 'runner encoders proved');
    const workRoot = this.#opts.workDir ?? join(tmpdir(), 'framecast-runner');
    await mkdir(workRoot, { recursive: true });
    try {
      const me = await this.#identity(workRoot, encoders);
      this.#log.info({ runner_id: me.id, url: this.#opts.url }, 'runner ready; waiting for jobs');
      this.#pool = createTranscodePool({ maxThreads: 1 });
      while (!this.#stop.signal.aborted) {
        let offer: RunnerJobOffer | undefined;
        try {
          offer = await this.#client.call<RunnerJobOffer>('/v1/runner/jobs/claim', { wait_s: this.#opts.waitS ?? 25, encoders }, { signal: this.#stop.signal });
        } catch (err) {
          if (this.#stop.signal.aborted) break;
          if (err instanceof NodeCallError && err.status === 401) {
            this.#log.error({ err: err.message }, 'the node refused this runner (revoked or unknown token); stopping');
            return 1;
          }
          this.#log.warn({ err: err instanceof Error ? err.message : String(err) }, 'claiming failed; trying again');
          await sleep(RETRY_MS, this.#stop.signal);
          continue;
        }
        if (offer) await this.#runJob(offer, workRoot, encoders, bins);
      }
      return 0;
    } finally {
      await this.#pool?.close();
    }
  }

  /** The runner token: given, kept from an earlier registration, or got now by registering. */
  async #identity(workRoot: string, encoders: string[]): Promise<{ id: string }> {
    const { token, url } = this.#opts;
    if (!token.startsWith('fcrr_')) return { id: 'runner' };
    const file = this.#opts.stateFile ?? join(workRoot, 'runner-state.json');
    const kept = await readFile(file, 'utf8').then((t) => JSON.parse(t) as RunnerState, () => undefined);
    if (kept && kept.url === url) {
      this.#client.useToken(kept.token);
      return kept;
    }
    const name = this.#opts.name ?? `${hostname()}-${process.pid}`;
    const created = await this.#client.call<{ id: string; token: string }>('/v1/runner/register', { name, encoders });
    if (!created) throw new Error('registration returned nothing');
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify({ url, id: created.id, token: created.token } satisfies RunnerState), { mode: 0o600 });
    this.#client.useToken(created.token);
    this.#log.info({ runner_id: created.id, name, state_file: file }, 'registered with the node');
    return created;
  }

  /**
   * The job's source, downloaded once per version: the chunks of a long video come to the same
   * runner one after another, and each would otherwise fetch the whole file again. Only the
   * last source is kept (a version's source never changes: a new upload is a new version).
   */
  async #source(offer: RunnerJobOffer, workRoot: string, io: JobIo, signal: AbortSignal): Promise<string> {
    const cacheDir = join(workRoot, 'source-cache');
    const path = join(cacheDir, `${offer.video_id}-v${offer.version}`);
    const size = await stat(path).then((st) => st.size, () => -1);
    if (offer.source.size !== null && size === offer.source.size) return path;
    await rm(cacheDir, { recursive: true, force: true });
    await mkdir(cacheDir, { recursive: true });
    await io.fetchSource(`${path}.part`, signal);
    await rename(`${path}.part`, path);
    return path;
  }

  async #runJob(offer: RunnerJobOffer, workRoot: string, encoders: VideoEncoder[], bins: { ffmpegPath: string; ffprobePath: string }): Promise<void> {
    const log = this.#log.child({ job_id: offer.id, video_id: offer.video_id, version: offer.version, attempt: offer.attempt });
    const jobCall = <T>(what: string, body: unknown) => this.#client.call<T>(`/v1/runner/jobs/${offer.id}/${what}`, body, { jobToken: offer.token });
    const abort = new AbortController();
    const signal = AbortSignal.any([abort.signal, this.#stop.signal]);
    let lost = false;
    let stage: 'probe' | 'transcode' | 'publish' = 'probe';
    let percent = 0;
    const beat = setInterval(() => {
      jobCall('progress', { stage, percent }).catch((err: unknown) => {
        if (err instanceof NodeCallError && (err.status === 409 || err.status === 401)) {
          lost = true;
          log.warn({ err: err.message }, 'the node took the job back; stopping it');
          abort.abort(err);
        }
      });
    }, offer.heartbeat_s * 1000);
    const timeout = setTimeout(
      () => abort.abort(new AppError('E_PROCESSING_TIMEOUT', 'processing took longer than jobs.timeout_s')),
      Math.max(0, offer.deadline_ms - Date.now()),
    );
    const workDir = await mkdtemp(join(workRoot, `job${offer.id}-`));
    log.info('job started');
    try {
      const io = signedUrlJobIo({
        baseUrl: this.#opts.url,
        sourceUrl: offer.source.url,
        signUploads: async (files) => (await jobCall<{ uploads: { path: string; url: string }[] }>('uploads', { files }))?.uploads ?? [],
      });
      const sourcePath = await this.#source(offer, workRoot, io, signal);
      let probe: ProbeResult;
      let ladder: Rung[];
      if (offer.chunk) {
        ({ probe, ladder } = offer.chunk);
      } else {
        probe = await probeSource(bins.ffprobePath, sourcePath, offer.limits, { ffmpegPath: bins.ffmpegPath, signal });
        // A long source may be chunked by the node: it needs the keyframes to cut at.
        const keyframes = wantsChunks({ chunk_min_s: offer.transcode.chunk_min_s ?? 0 }, probe) ? await readKeyframes(bins.ffprobePath, sourcePath, signal) : undefined;
        const accepted = await jobCall<{ ladder: Rung[]; chunked?: number }>('probe', { probe, keyframes });
        if (accepted?.chunked) {
          log.info({ chunks: accepted.chunked }, 'long source: the node queued its chunks; this job is done');
          return;
        }
        ladder = accepted?.ladder ?? [];
      }
      stage = 'transcode';
      const outDir = join(workDir, 'out');
      await mkdir(outDir);
      const encoder = (offer.transcode.encoder as VideoEncoder | null) ?? encoders[0] ?? 'libx264';
      const watermark = await markOf(offer, workDir, bins);
      const result: TranscodeResult = await this.#pool!.run(
        {
          ffmpegPath: bins.ffmpegPath,
          sourcePath,
          outDir,
          probe,
          ladder,
          ...(offer.chunk ? { part: offer.chunk.part } : {}),
          segmentSeconds: offer.transcode.segment_s,
          preset: offer.transcode.preset,
          audioKbps: offer.transcode.audio_kbps,
          maxAudioTracks: offer.transcode.max_audio_tracks,
          encoder,
          storyboard: offer.transcode.storyboard,
          maxFps: offer.transcode.max_fps,
          watermark,
        },
        { signal, onProgress: (p) => (percent = Math.max(percent, p.percent)) },
      );
      log.info({ encoder: result.encoder, renditions: result.renditions.length }, 'ladder encoded; uploading');
      stage = 'publish';
      // A part keeps only its segments, inits (and the audio part's images): the node joins them.
      const part = offer.chunk?.part;
      const files = (await listOutputs(outDir)).filter((f) => !part || chunkOutputKey(part, f.path) !== null);
      await io.storeOutputs(outDir, files, signal);
      await jobCall('complete', { result, files });
      if (part) log.info({ part: partName(part), files: files.length }, 'chunk job done; the node recorded the part');
      else log.info({ files: files.length }, 'job done; the node published it');
    } catch (err) {
      if (lost || (err instanceof NodeCallError && err.status === 409)) return;
      if (this.#stop.signal.aborted) return;
      const reason: unknown = abort.signal.aborted ? abort.signal.reason : err;
      const error = reason instanceof NodeCallError ? { code: reason.code, message: reason.message } : toVideoError(reason);
      log.error({ code: error.code, err: error.message }, 'job failed');
      await jobCall('fail', { code: error.code, message: error.message.slice(0, 4000) }).catch((e: unknown) => log.warn({ err: String(e) }, 'reporting the failure failed'));
    } finally {
      clearInterval(beat);
      clearTimeout(timeout);
      await rm(workDir, { recursive: true, force: true });
    }
  }
}
