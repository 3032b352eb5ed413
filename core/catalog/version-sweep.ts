/**
 * The sweep of replaced versions: once a version has been superseded for longer than
 * `versions.grace_s` (the origin stops serving it at that moment), its media and any staging
 * leftovers are deleted. Runs in the media process of worker nodes; idempotent, so several
 * nodes sweeping at once or a sweep cut short by a crash only repeat deletes. The version's
 * row (and its source, which a reprocess may still need) stay.
 */
import type { Services } from '../services.js';
import { objectKeys } from '../storage/object-store.js';

/** Versions handled per pass: a backlog is worked off over several passes. */
const BATCH = 50;

/** Deletes the media of versions whose grace period is over; returns how many were removed. */
export async function sweepReplacedVersions(s: Pick<Services, 'catalog' | 'store' | 'config' | 'logger'>, now = Date.now()): Promise<number> {
  const expired = await s.catalog.expiredVersions(now - s.config.versions.grace_s * 1000, BATCH);
  for (const { video_id, version } of expired) {
    await s.store.deletePrefix(objectKeys.media(video_id, version));
    await s.store.deletePrefix(objectKeys.staging(video_id, version));
    await s.catalog.markMediaRemoved(video_id, version);
    s.logger.info({ video_id, version }, 'replaced version removed after its grace period');
  }
  return expired.length;
}

/** How often the sweep runs: a few times per grace period, between 1 s and 1 min. */
export function sweepIntervalMs(graceS: number): number {
  return Math.max(1000, Math.min(60_000, graceS * 250));
}
