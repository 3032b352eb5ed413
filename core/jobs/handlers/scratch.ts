/**
 * The bounded local scratch area of a worker (data_dir/work): a job that would push it over
 * `transcode.scratch_max_bytes` waits (fails retryably, so the queue tries it again after a
 * backoff) instead of filling the disk under the jobs already running.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../errors.js';

/** Bytes currently used under `root` (0 when it does not exist). */
export async function scratchUsage(root: string): Promise<number> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  let total = 0;
  for (const e of entries) {
    if (!e.isFile()) continue;
    total += await stat(join(e.parentPath, e.name)).then((s) => s.size, () => 0);
  }
  return total;
}

/** What a job will write locally: the source (when copied from storage) plus its outputs. */
export function scratchEstimate(opts: { sourceBytes: number; copiesSource: boolean; durationMs: number; totalKbps: number }): number {
  const outputs = (opts.totalKbps * 1000 * (opts.durationMs / 1000)) / 8;
  // 10 % for init segments, sprites, playlists and container overhead.
  return Math.ceil((opts.copiesSource ? opts.sourceBytes : 0) + outputs * 1.1);
}

/** Throws a retryable E_UNAVAILABLE when `needBytes` more would exceed `maxBytes` (0 = no limit). */
export async function ensureScratch(root: string, needBytes: number, maxBytes: number): Promise<void> {
  if (maxBytes <= 0) return;
  const used = await scratchUsage(root);
  if (used + needBytes > maxBytes) {
    throw new AppError(
      'E_UNAVAILABLE',
      `the worker's scratch area is full (${used} bytes used, ${needBytes} more needed, limit ${maxBytes}); the job will be retried`,
    );
  }
}
