/**
 * The VOD pipeline's hook calls (core/jobs/handlers/vod-process.ts), each building the value
 * the hook documents (API.md "Plugins") only when some plugin listens.
 */
import type { VideoError } from '../errors.js';
import type { ProbeResult, Rung } from '../media/types.js';
import type { Services } from '../services.js';
import { mediaBase } from '../catalog/videos.js';
import type { HookProbe, MediaChangedValue } from './hooks.js';

function hookProbe(p: ProbeResult): HookProbe {
  return {
    duration_ms: p.duration_ms,
    width: p.width,
    height: p.height,
    video_codec: p.video_codec,
    audio_codec: p.audio_codec,
    fps: p.fps,
    has_audio: p.has_audio,
    format_name: p.format_name,
  };
}

/** `filter:video.inspected`: throws E_MODERATION_REJECTED (with the plugin's reason) on refusal. */
export async function inspectVideo(s: Services, videoId: string, version: number, probe: ProbeResult): Promise<void> {
  if (!s.plugins.has('filter:video.inspected')) return;
  const video = await s.catalog.view(await s.catalog.get(videoId));
  await s.plugins.filter('filter:video.inspected', { video, probe: hookProbe(probe) }, { video_id: videoId, version });
}

/** `filter:transcode.ladder`: the ladder plugins leave, or the given one when none listens. */
export async function filterLadder(s: Services, videoId: string, version: number, probe: ProbeResult, ladder: Rung[]): Promise<Rung[]> {
  if (!s.plugins.has('filter:transcode.ladder')) return ladder;
  const filtered = await s.plugins.filter('filter:transcode.ladder', ladder, { video_id: videoId, version, probe: hookProbe(probe) });
  const valid =
    Array.isArray(filtered) &&
    filtered.length > 0 &&
    filtered.every((r) => typeof r?.name === 'string' && /^[a-z0-9]+$/.test(r.name) && [r.width, r.height, r.video_kbps].every((n) => Number.isInteger(n) && n > 0) && r.width % 2 === 0 && r.height % 2 === 0);
  if (!valid) {
    s.logger.warn({ video_id: videoId, version }, 'filter:transcode.ladder returned an unusable ladder; using the default');
    return ladder;
  }
  return filtered;
}

/** `action:video.ready` / `action:video.failed` with the video as GET /v1/videos/:id shows it. */
export async function announceVideo(s: Services, videoId: string, version: number, error?: VideoError): Promise<void> {
  const hook = error ? 'action:video.failed' : 'action:video.ready';
  if (!s.plugins.has(hook)) return;
  const row = await s.catalog.find(videoId);
  if (!row) return;
  const video = await s.catalog.view(row);
  if (error) s.plugins.action('action:video.failed', video, { video_id: videoId, version, error });
  else s.plugins.action('action:video.ready', video, { video_id: videoId, version });
}

/**
 * `action:video.media_changed`: URLs under the video's media changed meaning. `replaced`
 * lists the versions a new one superseded (reason `new_version`); the other reasons purge
 * every version of the video.
 */
export function announceMediaChanged(
  s: Pick<Services, 'plugins' | 'config' | 'logger'>,
  change: { videoId: string; reason: MediaChangedValue['reason']; version: number | null; replaced?: number[] },
): void {
  const { videoId, reason, version, replaced = [] } = change;
  const prefix = s.config.public_url.replace(/\/+$/, '');
  const paths = reason === 'new_version' ? replaced.map((v) => mediaBase(videoId, v)) : [`/media/${videoId}/`];
  if (paths.length === 0) return;
  const value: MediaChangedValue = { video_id: videoId, reason, version, purge_prefixes: paths.map((p) => prefix + p) };
  if (reason === 'new_version') value.replaced_served_until = new Date(Date.now() + s.config.versions.grace_s * 1000).toISOString();
  s.logger.info({ video_id: videoId, reason, purge_prefixes: value.purge_prefixes }, 'video media changed');
  if (s.plugins.has('action:video.media_changed')) s.plugins.action('action:video.media_changed', value, { video_id: videoId });
}
