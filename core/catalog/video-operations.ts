/**
 * Video operations shared by the API (routes/videos.ts) and the CLI (`framecast videos`):
 * deleting a video with everything stored for it, and reprocessing its stored source.
 */
import { priorityClassOf, scheduling } from '../jobs/priority.js';
import { AppError } from '../errors.js';
import type { Services } from '../services.js';
import type { VideoRow } from '../storage/metadata-db.js';
import { objectKeys } from '../storage/object-store.js';
import { announceMediaChanged } from '../plugins/video-hooks.js';

/**
 * Removes the video's rows, source and every output (published, and staged by a job still
 * running: that job notices the video is gone and removes whatever it writes after this).
 */
export async function deleteVideo(s: Pick<Services, 'catalog' | 'store' | 'logger' | 'plugins' | 'config'>, row: VideoRow): Promise<void> {
  const uploads = await s.catalog.unfinishedUploads(row.id);
  await s.catalog.delete(row.id);
  await Promise.all([
    s.store.deletePrefix(objectKeys.sourcePrefix(row.id)),
    s.store.deletePrefix(objectKeys.stagingPrefix(row.id)),
    s.store.deletePrefix(objectKeys.mediaPrefix(row.id)),
    // Uploads in progress: their bytes; the upload expiry sweeps whatever the tus store keeps beside them.
    ...uploads.map((id) => s.store.delete(s.store.tusUploadKey(id)).catch(() => undefined)),
  ]);
  s.logger.info({ video_id: row.id }, 'video deleted');
  announceMediaChanged(s, { videoId: row.id, reason: 'deleted', version: null });
}

/** Changes a video's fields; a visibility change is announced (cached media must be purged). */
export async function patchVideo(
  s: Pick<Services, 'catalog' | 'logger' | 'plugins' | 'config'>,
  row: VideoRow,
  fields: Parameters<Services['catalog']['patch']>[1],
): Promise<VideoRow> {
  const updated = await s.catalog.patch(row.id, fields);
  if (updated.visibility !== row.visibility) {
    announceMediaChanged(s, { videoId: row.id, reason: 'visibility', version: updated.current_version || null });
  }
  return updated;
}

/** Opens a new version made from the newest stored source and queues its processing. */
export async function reprocessVideo(s: Pick<Services, 'catalog' | 'store' | 'queue' | 'logger' | 'config' | 'plugins'>, row: VideoRow): Promise<{ version: number; sourceVersion: number }> {
  let sourceVersion = 0;
  for (let v = row.latest_version; v >= 1 && sourceVersion === 0; v--) {
    if (await s.store.head(objectKeys.source(row.id, v))) sourceVersion = v;
  }
  if (sourceVersion === 0) throw new AppError('E_CONFLICT', 'this video has no stored source to reprocess');
  const version = await s.catalog.openVersion(row.id, { status: 'processing' });
  const sourceBytes = (await s.store.head(objectKeys.source(row.id, sourceVersion)))?.size;
  const schedule = await scheduling(s, { type: 'vod.process', videoId: row.id, version, priorityClass: priorityClassOf(row.priority), sourceBytes });
  await s.queue.enqueue('vod.process', { videoId: row.id, version, sourceVersion }, { videoId: row.id, version, ...schedule });
  s.logger.info({ video_id: row.id, version, source_version: sourceVersion }, 'reprocess queued');
  return { version, sourceVersion };
}
