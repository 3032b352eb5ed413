/**
 * What a newly served version needs for its text tracks: the captions and chapters the video
 * already has are published for it (no re-encode), and automatic captions are queued when
 * an engine is configured and the video has none yet. Neither delays `ready`: this runs
 * after the version is published, and a failure here is logged, never the version's.
 */
import type { Logger } from '../logger.js';
import type { Services } from '../services.js';
import { CaptionCatalog } from './caption-catalog.js';
import type { MediaManifest } from '../media/types.js';
import { publishTextTracks, storedTextTracks } from './text-track-publisher.js';

/** Queues `captions.generate` unless the video has an automatic track of `language` already. */
export async function queueAutomaticCaptions(s: Pick<Services, 'db' | 'queue'>, videoId: string, language: string): Promise<number | undefined> {
  const existing = await new CaptionCatalog(s.db.db).list(videoId);
  if (existing.some((c) => c.auto === 1 && c.language === language)) return undefined;
  const job = await s.queue.enqueue('captions.generate', { videoId, language }, { videoId });
  return job.id;
}

/**
 * Before a version is marked ready: the video's captions and chapters are written for it, so
 * its first answer as `ready` already carries them (a failure is logged, and retried after).
 */
export async function textTracksBeforeReady(s: Services, videoId: string, version: number, manifest: MediaManifest, log: Logger): Promise<void> {
  try {
    const video = await s.catalog.find(videoId);
    if (video && (video.text_tracks || video.chapters)) await publishTextTracks(s, videoId, { version, manifest });
  } catch (err) {
    log.warn({ err }, 'text tracks of the new version failed before publish; trying again after it');
  }
}

/** After a version became the served one: text tracks if they are not its yet, then automatic captions. */
export async function textTracksForNewVersion(s: Services, videoId: string, log: Logger): Promise<void> {
  try {
    const video = await s.catalog.find(videoId);
    if (!video) return;
    const published = storedTextTracks(video.text_tracks);
    if ((published || video.chapters) && published?.version !== video.current_version) await publishTextTracks(s, videoId);
    const { engine, auto, languages } = s.config.transcription;
    if (engine !== 'none' && auto) {
      const job = await queueAutomaticCaptions(s, videoId, languages[0]!);
      if (job !== undefined) log.info({ job_id: job }, 'automatic captions queued');
    }
  } catch (err) {
    log.warn({ err }, 'text tracks of the new version failed; the version plays without them until the next caption change');
  }
}
