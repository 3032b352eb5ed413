/*
 * The transcode worker pool (piscina), typed from the worker's own signature.
 *
 * The worker file is found next to this one with THIS file's extension, so the same code
 * runs under tsx (.ts) and compiled (dist/, .js). Worker threads inherit the process's
 * options, so `node --import tsx` (and tap's TypeScript loader) also load the .ts worker; when
 * a .ts pool is started without any such loader we add `--import tsx` ourselves.
 *
 * Aborting: piscina's own abort would terminate the worker thread, and the ffmpeg child
 * (a child of the whole process) would run on. Instead the pool sends `{type:'abort'}` on a
 * control port and the worker SIGKILLs its ffmpeg and rejects.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type transcode from './transcode.worker.js';
import type { TranscodeControlMessage, TranscodeProgress, TranscodeResult } from './types.js';

/** What the worker takes: typed from the worker file itself. */
export type TranscodePoolTask = Parameters<typeof transcode>[0];

export interface TranscodeRunOptions {
  signal?: AbortSignal;
  /** Convenience: receives progress when the task brings no progressPort of its own. */
  onProgress?(p: TranscodeProgress): void;
}

/** A pool of transcode workers. */
export interface TranscodePool {
  run(task: TranscodePoolTask, opts?: TranscodeRunOptions): Promise<TranscodeResult>;
  /** Waits for running tasks, then stops the workers. */
  close(): Promise<void>;
}

type PiscinaTransferList = NonNullable<NonNullable<Parameters<Piscina['run']>[1]>['transferList']>;

const ownFile = fileURLToPath(import.meta.url);
const ownExt = path.extname(ownFile);
/** The worker module beside this file, with the same extension (.ts under tsx, .js compiled). */
export const WORKER_FILE = path.join(path.dirname(ownFile), `transcode.worker${ownExt}`);

/**
 * The workers' node flags. Left out, a worker inherits the process's own options as they are;
 * given explicitly, Node parses them again and refuses every per-process flag, so
 * `node --max-old-space-size=4096 dist/core/main.js` (a common way to give a node more heap)
 * failed every transcode with ERR_WORKER_INVALID_EXEC_ARGV. So flags are given only where
 * they must be: a .ts pool started without a TypeScript loader gets `--import tsx` added.
 */
function workerExecArgv(): string[] | undefined {
  const argv = process.execArgv;
  if (ownExt !== '.ts') return undefined;
  const hasLoader = argv.some((a) => /tsx|ts-node|typescript|--experimental-strip-types|--loader/.test(a));
  return hasLoader ? undefined : [...argv, '--import', 'tsx'];
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('the transcode was aborted', 'AbortError');
}

export function createTranscodePool(opts: { maxThreads: number }): TranscodePool {
  const piscina = new Piscina<TranscodePoolTask, TranscodeResult>({
    filename: WORKER_FILE,
    minThreads: 0,
    maxThreads: opts.maxThreads,
    // One ffmpeg per worker already uses several cores; do not queue tasks onto busy workers.
    concurrentTasksPerWorker: 1,
    idleTimeout: 30_000,
    execArgv: workerExecArgv(),
  });

  return {
    async run(task, runOpts = {}) {
      const { signal, onProgress } = runOpts;
      if (signal?.aborted) throw abortError(signal);
      const control = new MessageChannel();
      let progress: MessageChannel | null = null;
      let progressPort = task.progressPort;
      if (!progressPort && onProgress) {
        progress = new MessageChannel();
        progress.port1.on('message', (m: TranscodeProgress) => onProgress(m));
        progressPort = progress.port2;
      }
      const onAbort = (): void => control.port1.postMessage({ type: 'abort' } satisfies TranscodeControlMessage);
      signal?.addEventListener('abort', onAbort, { once: true });
      // Node's MessagePort and the DOM one (in the task type) are the same object at run time.
      const transferList = [control.port2, ...(progressPort ? [progressPort] : [])] as unknown as PiscinaTransferList;
      try {
        return await piscina.run(
          { ...task, ...(progressPort ? { progressPort } : {}), controlPort: control.port2 },
          { transferList },
        );
      } catch (err) {
        throw signal?.aborted ? abortError(signal) : err;
      } finally {
        signal?.removeEventListener('abort', onAbort);
        control.port1.close();
        progress?.port1.close();
      }
    },
    async close() {
      await piscina.close();
    },
  };
}
