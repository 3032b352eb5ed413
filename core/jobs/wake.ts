/**
 * "A job was queued": a hint that wakes this node's job runner at once instead of at its
 * next poll (`jobs.poll_interval_ms`, 500 ms by default: on average a quarter of a second
 * of every upload's, clip's and chunk's wait). Carried by the same bus as live playlist
 * changes (core/origin/live-updates.ts): within a node over cluster IPC, and to api nodes
 * sharing a PostgreSQL database. A lost hint costs only that wait: runners keep polling.
 */
import { liveUpdates } from '../origin/live-updates.js';

const JOBS_QUEUED = 'framecast:jobs-queued';

/** Tells the runners that a job is claimable now. Call after the job's transaction commits. */
export function announceQueuedJob(): void {
  liveUpdates.changed(JOBS_QUEUED);
}

/** Calls `fn` at each announcement, from any process of the node; returns the unsubscribe. */
export function onQueuedJob(fn: () => void): () => void {
  return liveUpdates.on(JOBS_QUEUED, fn);
}

/** Waits until the next announcement or `ms`, whichever is first (or until `signal` aborts). */
export async function queuedJobOrTimeout(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  const next = liveUpdates.next(JOBS_QUEUED, ms);
  const cancel = () => next.cancel();
  signal.addEventListener('abort', cancel, { once: true });
  try {
    await next.changed;
  } finally {
    signal.removeEventListener('abort', cancel);
  }
}
