/**
 * Chosen posters (API.md "poster"): a frame at a time of the current version, or an uploaded
 * image (core/media/poster-choice.ts). The poster is a new object under the current version
 * with a name of its own (`poster-<hash>.jpg`), so every URL stays immutable and caches never
 * serve an older choice; `videos.poster` names it while that version is current (a new
 * version brings its own automatic poster back).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../errors.js';
import { resolveFfmpeg, type FfmpegBinaries } from '../media/ffmpeg.js';
import { parseMediaPlaylist } from '../media/playlists.js';
import { extractPosterFrame, reencodePosterImage, type PosterImageType } from '../media/poster-choice.js';
import { MEDIA_PLAYLIST } from '../media/transcode-command.js';
import type { RenditionInfo } from '../media/types.js';
import type { Services } from '../services.js';
import type { VideoRow } from '../storage/metadata-db.js';
import { objectKeys } from '../storage/object-store.js';

/** What `videos.poster` holds. */
export interface ChosenPoster {
  version: number;
  file: string;
}

/** The poster every version is published with (vod-process.ts). */
export const AUTOMATIC_POSTER = 'poster.jpg';

/** The poster file of `version` for a video row: the chosen one while it belongs to that version. */
export function posterFile(row: Pick<VideoRow, 'poster'>, version: number): string {
  const chosen = row.poster ? (JSON.parse(row.poster) as ChosenPoster) : null;
  return chosen?.version === version ? chosen.file : AUTOMATIC_POSTER;
}

export type PosterSource = { kind: 'time'; time_s: number } | { kind: 'image'; type: PosterImageType; bytes: Buffer };

let binaries: Promise<FfmpegBinaries> | undefined;

async function readObject(s: Pick<Services, 'store'>, key: string): Promise<Buffer> {
  const found = await s.store.get(key);
  if (!found) throw new AppError('E_NOT_FOUND', `${key} is gone`);
  const chunks: Buffer[] = [];
  for await (const chunk of found.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Makes the poster from `source`, stores it beside the current version and makes it the video's. */
export async function choosePoster(s: Pick<Services, 'catalog' | 'store' | 'db' | 'config' | 'logger'>, row: VideoRow, source: PosterSource): Promise<VideoRow> {
  const version = row.current_version > 0 ? await s.catalog.version(row.id, row.current_version) : undefined;
  if (!version?.manifest || version.status !== 'ready') throw new AppError('E_CONFLICT', `video ${row.id} is not ready yet`);
  const ladder = (JSON.parse(version.manifest) as { ladder: RenditionInfo[] }).ladder.filter((r) => r.width > 0);
  const top = ladder.reduce<RenditionInfo | undefined>((big, r) => (!big || r.height > big.height ? r : big), undefined);
  if (!top) throw new AppError('E_CONFLICT', `video ${row.id} has no picture to take a poster from`);
  const prefix = objectKeys.media(row.id, version.version);
  const bins = await (binaries ??= resolveFfmpeg());
  const workRoot = join(s.config.data_dir, 'work');
  await mkdir(workRoot, { recursive: true });
  const dir = await mkdtemp(join(workRoot, 'poster-'));
  try {
    const out = join(dir, 'poster.jpg');
    if (source.kind === 'time') {
      const duration_s = (version.duration_ms ?? 0) / 1000;
      if (!(source.time_s >= 0 && source.time_s < duration_s)) throw new AppError('E_BAD_REQUEST', `time_s must be within the video (0 ≤ time_s < ${duration_s})`);
      const playlist = parseMediaPlaylist((await readObject(s, `${prefix}${top.name}/${MEDIA_PLAYLIST}`)).toString('utf8'));
      let from = 0;
      const segment = playlist.segments.find((seg) => {
        const inside = source.time_s < from + seg.duration;
        if (!inside) from += seg.duration;
        return inside;
      }) ?? playlist.segments[playlist.segments.length - 1];
      if (!segment || !playlist.initUri) throw new AppError('E_NOT_FOUND', `video ${row.id} has no segments`);
      const input = join(dir, 'segment.mp4');
      const parts = await Promise.all([playlist.initUri, segment.uri].map((uri) => readObject(s, `${prefix}${top.name}/${uri}`)));
      await writeFile(input, Buffer.concat(parts));
      await extractPosterFrame(bins.ffmpegPath, input, source.time_s - from, out);
    } else {
      const input = join(dir, 'upload');
      await writeFile(input, source.bytes);
      await reencodePosterImage(bins, input, source.type, out, { box: top, maxPixels: s.config.limits.max_pixels });
    }
    const jpeg = await readFile(out);
    const file = `poster-${createHash('sha256').update(jpeg).digest('hex').slice(0, 12)}.jpg`;
    await s.store.put(prefix + file, jpeg);
    const poster: ChosenPoster = { version: version.version, file };
    await s.db.db.updateTable('videos').set({ poster: JSON.stringify(poster), updated_at: Date.now() }).where('id', '=', row.id).execute();
    s.logger.info({ video_id: row.id, version: version.version, poster: file, from: source.kind }, 'poster chosen');
    return s.catalog.get(row.id);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
