/*
 * Live → VOD without re-encoding: the recorded segments themselves become version 1 of an
 * ordinary video. The VOD playlists list every segment of every run (a reconnect shows as a
 * discontinuity with the run's own init segment); only the poster and the storyboard are
 * made, from the recording (each run's init + segments of a rendition is a playable fMP4).
 * Everything is written to the version's staging prefix, published as a whole
 * (publishPrefix), and the version is marked ready: the video then serves under /media/
 * like any upload. On the fs store putFile hard-links, so no segment is copied either.
 */
import { mkdir, mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { mediaBase, type VideoCatalog } from '../core/catalog/videos.js';
import type { MediaManifest } from '../core/jobs/handlers/vod-process.js';
import type { Logger } from '../core/logger.js';
import { runFfmpeg, safeInputArgs } from '../core/media/ffmpeg.js';
import { makePoster } from '../core/media/poster.js';
import { storyboardVtt } from '../core/media/storyboard.js';
import { AUDIO_RENDITION, MASTER_PLAYLIST, MEDIA_PLAYLIST, SPRITE_PATTERN, storyboardChain, storyboardTileSize } from '../core/media/transcode-command.js';
import type { VideoEncoder } from '../core/media/types.js';
import type { LiveRow } from '../core/storage/metadata-db.js';
import { objectKeys, type ObjectStore } from '../core/storage/object-store.js';
import type { LivePackager } from './live-packager.js';
import { masterPlaylist, targetDurationOf, vodMediaPlaylist, type TimelineSegment } from './live-playlists.js';

export interface ArchiveDeps {
  catalog: VideoCatalog;
  store: ObjectStore;
  config: Readonly<Pick<Config, 'public_url' | 'transcode' | 'data_dir'>>;
  ffmpegPath: string;
  encoder: VideoEncoder;
  logger: Logger;
}

/** Segments around the middle of the recording that the poster is picked from. */
const POSTER_SEGMENTS = 10;

/** Runs of a timeline, in order, each with its segments. */
function runsOf(timeline: readonly TimelineSegment[]): TimelineSegment[][] {
  const runs: TimelineSegment[][] = [];
  for (const seg of timeline) {
    const last = runs[runs.length - 1];
    if (last && last[0]!.run === seg.run) last.push(seg);
    else runs.push([seg]);
  }
  return runs;
}

function seconds(segments: readonly TimelineSegment[]): number {
  return segments.reduce((sum, s) => sum + s.duration, 0);
}

/** Writes one run of a rendition (init + segments) as a single fMP4 file. */
async function joinRun(packager: LivePackager, segments: readonly TimelineSegment[], out: string): Promise<void> {
  const file = await open(out, 'w');
  try {
    for (const part of [packager.localFile(segments[0]!, 'init'), ...segments.map((s) => packager.localFile(s, 'segment'))]) {
      const handle = await open(part, 'r');
      try {
        for await (const chunk of handle.createReadStream()) await file.write(chunk as Buffer);
      } finally {
        await handle.close().catch(() => undefined);
      }
    }
  } finally {
    await file.close();
  }
}

/** Storyboard sheets over every run of the recording, in order (each run scaled to the tile first). */
async function makeSheets(
  deps: ArchiveDeps,
  files: readonly string[],
  size: { width: number; height: number },
  outDir: string,
): Promise<{ width: number; height: number; sheets: number }> {
  const spec = deps.config.transcode.storyboard;
  const tile = storyboardTileSize(size, spec);
  const scaled = files.map((_, i) => `[${i}:v:0]scale=${tile.width}:${tile.height},setsar=1[c${i}]`);
  const joined = files.length > 1 ? `${files.map((_, i) => `[c${i}]`).join('')}concat=n=${files.length}:v=1:a=0,` : '[c0]';
  await runFfmpeg(deps.ffmpegPath, [
    '-hide_banner', '-nostdin', '-y', '-loglevel', 'error', ...files.flatMap((f) => safeInputArgs(f)),
    '-filter_complex', [...scaled, `${joined}${storyboardChain(tile, spec)}[sb]`].join(';'),
    '-map', '[sb]', '-c:v', 'mjpeg', '-q:v', '5', '-fps_mode', 'passthrough', '-f', 'image2', '-start_number', '0', join(outDir, SPRITE_PATTERN),
  ]);
  const sheets = (await readdir(outDir)).filter((f) => /^sprite-\d+\.jpg$/.test(f)).length;
  return { ...tile, sheets };
}

/** Publishes the recording of an ended live as a ready VOD; resolves with the video id. */
export async function archiveLive(deps: ArchiveDeps, live: LiveRow, packager: LivePackager): Promise<string> {
  const timelines = packager.timelines();
  const variants = packager.masterVariants().filter((v) => (timelines.get(v.name)?.length ?? 0) > 0);
  const audio = timelines.get(AUDIO_RENDITION);
  const top = variants[variants.length - 1];
  const lowest = variants[0];
  if (!top || !lowest) throw new Error('the live recorded no video');

  const video = await deps.catalog.create({ title: live.title, owner: live.owner });
  const version = await deps.catalog.openVersion(video.id, { status: 'processing' });
  const staging = objectKeys.staging(video.id, version);
  await mkdir(join(deps.config.data_dir, 'work'), { recursive: true });
  const work = await mkdtemp(join(deps.config.data_dir, 'work', `archive-${live.id}-`));
  try {
    await deps.catalog.setProgress(video.id, version, 'publish', 0);
    const rendered = [...variants.map((v) => v.name), ...(audio?.length ? [AUDIO_RENDITION] : [])];
    const target = targetDurationOf(deps.config.transcode.segment_s, [...timelines.values()].flat().map((s) => s.duration));
    for (const name of rendered) {
      const timeline = timelines.get(name)!;
      for (const run of runsOf(timeline)) {
        await deps.store.putFile(`${staging}${name}/${run[0]!.init}`, packager.localFile(run[0]!, 'init'));
        for (const seg of run) await deps.store.putFile(`${staging}${name}/${seg.file}`, packager.localFile(seg, 'segment'));
      }
      await deps.store.put(`${staging}${name}/${MEDIA_PLAYLIST}`, vodMediaPlaylist(name, timeline, target));
    }
    await deps.store.put(`${staging}${MASTER_PLAYLIST}`, masterPlaylist(variants, audio?.length ? AUDIO_RENDITION : null, MEDIA_PLAYLIST));
    const duration_ms = Math.round(seconds(timelines.get(lowest.name)!) * 1000);

    // Poster from the middle of the longest run of the top rendition (a few segments are
    // enough to pick from); storyboard over every run of the lowest.
    const topRuns = runsOf(timelines.get(top.name)!);
    const longestRun = topRuns.reduce((a, b) => (seconds(b) > seconds(a) ? b : a));
    const middle = Math.floor(longestRun.length / 2);
    const longest = longestRun.slice(Math.max(0, middle - POSTER_SEGMENTS / 2), middle + POSTER_SEGMENTS / 2);
    const posterSource = join(work, 'poster-source.mp4');
    await joinRun(packager, longest, posterSource);
    await makePoster(deps.ffmpegPath, posterSource, join(work, 'poster.jpg'), {
      duration_ms: Math.round(seconds(longest) * 1000),
      width: top.width,
      height: top.height,
    });
    const lowFiles: string[] = [];
    for (const [i, run] of runsOf(timelines.get(lowest.name)!).entries()) {
      const file = join(work, `low-${i}.mp4`);
      await joinRun(packager, run, file);
      lowFiles.push(file);
    }
    const sheetsDir = join(work, 'sheets');
    await mkdir(sheetsDir);
    const board = await makeSheets(deps, lowFiles, lowest, sheetsDir);
    for (const f of await readdir(sheetsDir)) await deps.store.putFile(`${staging}${f}`, join(sheetsDir, f));
    const spec = deps.config.transcode.storyboard;
    await deps.store.put(
      `${staging}storyboard.vtt`,
      storyboardVtt(duration_ms, { ...spec, tile_width: board.width, tile_height: board.height, sheets: board.sheets }),
    );
    await deps.store.putFile(`${staging}poster.jpg`, join(work, 'poster.jpg'));

    const base = `${deps.config.public_url.replace(/\/$/, '')}${mediaBase(video.id, version)}`;
    const ladder = variants.map((v) => ({ name: v.name, width: v.width, height: v.height, bitrate_kbps: Math.round(v.bandwidth / 1000), codecs: v.codecs }));
    const manifest: MediaManifest = {
      version,
      hls_url: `${base}${MASTER_PLAYLIST}`,
      dash_url: null,
      poster_url: `${base}poster.jpg`,
      thumbnail_vtt_url: `${base}storyboard.vtt`,
      duration_ms,
      ladder,
      loudness: null,
      encoder: deps.encoder,
    };
    await deps.store.put(`${staging}manifest.json`, JSON.stringify(manifest, null, 2));
    await deps.store.publishPrefix(staging, objectKeys.media(video.id, version));
    await deps.catalog.markReady(
      video.id,
      version,
      { duration_ms, width: top.width, height: top.height, manifest: JSON.stringify(manifest), loudness: null, encoder: deps.encoder },
      ladder,
    );
    return video.id;
  } catch (err) {
    await deps.store.deletePrefix(staging).catch(() => undefined);
    await deps.catalog.markFailed(video.id, version, { code: 'E_TRANSCODE_FAILED', message: `archiving the live failed: ${(err as Error).message}`, retryable: false });
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
