/**
 * Clips (API.md "clips"): a new video cut from a range of a ready one. The video and its
 * first version are opened here and a `vod.clip` job makes the media (jobs/handlers/vod-clip.ts),
 * so the answer comes at once and the clip is ready seconds later.
 */
import { AppError } from '../errors.js';
import type { Services } from '../services.js';
import type { VideoRow } from '../storage/metadata-db.js';

export interface ClipRequest {
  start_s: number;
  end_s: number;
  title?: string | undefined;
  /** Grow the range to the parent's segment boundaries (nothing re-encoded). */
  snap?: boolean | undefined;
}

/** The shortest clip: one frame at 10 fps. */
const MIN_CLIP_S = 0.1;

/** Opens the clip of `parent` and queues its making; returns the new video's row. */
export async function createClip(
  s: Pick<Services, 'catalog' | 'queue' | 'logger'>,
  parent: VideoRow,
  request: ClipRequest,
  owner: string | null,
): Promise<VideoRow> {
  const version = parent.current_version > 0 ? await s.catalog.version(parent.id, parent.current_version) : undefined;
  if (!version || version.status !== 'ready' || !version.duration_ms) {
    throw new AppError('E_CONFLICT', `video ${parent.id} is not ready yet: only a ready video can be clipped`);
  }
  const duration_s = version.duration_ms / 1000;
  if (!(request.start_s >= 0) || !(request.end_s <= duration_s + 0.001) || request.end_s - request.start_s < MIN_CLIP_S) {
    throw new AppError(
      'E_BAD_REQUEST',
      `start_s and end_s must satisfy 0 ≤ start_s < end_s ≤ ${duration_s} (the video's duration), at least ${MIN_CLIP_S} s apart`,
    );
  }
  const range = { start_ms: Math.round(request.start_s * 1000), end_ms: Math.round(Math.min(request.end_s, duration_s) * 1000) };
  const row = await s.catalog.create({
    title: request.title ?? `${parent.title} (clip)`,
    tags: JSON.parse(parent.tags) as string[],
    visibility: parent.visibility,
    owner,
    clip: { of: parent.id, ...range },
  });
  const clipVersion = await s.catalog.openVersion(row.id, { status: 'processing' });
  await s.queue.enqueue(
    'vod.clip',
    { videoId: row.id, version: clipVersion, parentId: parent.id, parentVersion: version.version, ...range, snap: request.snap ?? false },
    { videoId: row.id, version: clipVersion },
  );
  s.logger.info({ video_id: row.id, parent_id: parent.id, ...range, snap: request.snap ?? false }, 'clip queued');
  return s.catalog.get(row.id);
}
