/*
 * Live → VOD without re-encoding: the recorded segments themselves become version 1 of an
 * ordinary video.
 *
 * Archiving is a queued job (`live.archive`, live-archive-job.ts), so a
 * restart or a crash of the media process during it loses nothing: when a recorded live ends
 * its video and version are created at once (the live's `vod_video_id`, `processing` until
 * the archive is done) and the job names them, so every attempt fills the same version; the
 * recording is read back from the packager's journal on local disk. At start the media
 * process queues again any ended recorded live of this node whose VOD is neither ready nor
 * queued (requeueUnarchived). The job is pinned to the node that recorded the live (its
 * node id, core/jobs/node-id.ts): with a shared database another live node never claims it,
 * and while that node is down it waits, queued, and GET /v1/jobs names the node.
 * The VOD playlists list every segment of every run (a reconnect shows as a
 * discontinuity with the run's own init segment); only the poster and the storyboard are
 * made, from the recording (each run's init + segments of a rendition is a playable fMP4).
 * Everything is written to the version's staging prefix, published as a whole
 * (publishVersion, core/catalog/version-publish.ts: the one publish step of every version),
 * and the version is marked ready: the video then serves under /media/
 * like any upload. On the fs store putFile hard-links, so no segment is copied either.
 */
import type { PriorityInput } from '../core/jobs/priority.js';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { versionUrls, type VideoCatalog } from '../core/catalog/videos.js';
import type { Logger } from '../core/logger.js';
import { runFfmpeg, safeInputArgs } from '../core/media/ffmpeg.js';
import { makePoster } from '../core/media/poster.js';
import { storyboardVtt } from '../core/media/storyboard.js';
import { AUDIO_RENDITION, MASTER_PLAYLIST, MEDIA_PLAYLIST, SPRITE_PATTERN, storyboardChain, storyboardTileSize } from '../core/media/transcode-command.js';
import type { MediaManifest, VideoEncoder } from '../core/media/types.js';
import type { JobQueue } from '../core/jobs/queue.js';
import type { Kysely } from 'kysely';
import type { Database, LiveRow } from '../core/storage/metadata-db.js';
import { publishVersion } from '../core/catalog/version-publish.js';
import { objectKeys, type ObjectStore } from '../core/storage/object-store.js';
import { LiveJournal } from './live-journal.js';
import { LivePackager, packagerOptions } from './live-packager.js';
import type { LiveStore } from '../core/live/live-store.js';
import { masterPlaylist, targetDurationOf, vodMediaPlaylist, type TimelineSegment } from './live-playlists.js';

export interface ArchiveDeps {
  catalog: VideoCatalog;
  store: ObjectStore;
  config: Readonly<Pick<Config, 'public_url' | 'transcode' | 'data_dir' | 'live'>>;
  ffmpegPath: string;
  encoder: VideoEncoder;
  logger: Logger;
  /** The job's signal (timeout, shutdown, lost lease): kills the archive's ffmpeg runs and stops between steps. */
  signal?: AbortSignal;
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
  ], { signal: deps.signal });
  const sheets = (await readdir(outDir)).filter((f) => /^sprite-\d+\.jpg$/.test(f)).length;
  return { ...tile, sheets };
}

/** The version of a video a live's recording becomes. */
export interface ArchiveTarget {
  videoId: string;
  version: number;
}

/** Where a live's packager keeps its runs and journal on this node. */
export function liveWorkDir(config: Pick<Config, 'data_dir'>, liveId: string): string {
  return join(config.data_dir, 'live', liveId);
}

/**
 * The recording of an ended live, read back from its journal on this node; undefined when
 * this node has none or it holds no segment (nothing to archive here).
 */
export async function recordedPackager(deps: Pick<ArchiveDeps, 'config' | 'store' | 'ffmpegPath' | 'encoder' | 'logger'>, liveId: string): Promise<LivePackager | undefined> {
  const workDir = liveWorkDir(deps.config, liveId);
  const packager = new LivePackager(
    packagerOptions(deps.config, { liveId, store: deps.store, workDir, ffmpegPath: deps.ffmpegPath, encoder: deps.encoder, record: true, logger: deps.logger }),
  );
  if (!(await packager.resume()) || packager.timelines().size === 0) return undefined;
  // Final playlists (ENDLIST) where the live's end did not write them (a process died), and
  // the master's variants the archive reads.
  await packager.endResumed();
  return packager;
}

export interface ArchiveQueueDeps {
  catalog: VideoCatalog;
  queue: JobQueue;
  lives: LiveStore;
  /** This node's id: the recording is on its disk, so only it may run the archive. */
  node: string;
  /** The archive job's priority (core/jobs/priority.ts); default 0. */
  priority?: (input: PriorityInput) => Promise<number>;
}

/**
 * Queues the archive of an ended recorded live: its video and version first (the live's
 * `vod_video_id` from now on, `processing`), then the `live.archive` job that fills them.
 * Resolves with the video id.
 */
export async function queueArchive(deps: ArchiveQueueDeps, live: LiveRow): Promise<string> {
  let target: ArchiveTarget | undefined;
  const existing = live.vod_video_id ? await deps.catalog.find(live.vod_video_id) : undefined;
  if (existing && existing.latest_version > 0) target = { videoId: existing.id, version: existing.latest_version };
  if (!target) {
    const video = await deps.catalog.create({ title: live.title, owner: live.owner });
    target = { videoId: video.id, version: await deps.catalog.openVersion(video.id, { status: 'processing' }) };
    await deps.lives.update(live.id, { vod_video_id: target.videoId });
  }
  const priority = await deps.priority?.({ type: 'live.archive', ...target, priorityClass: 'normal' });
  await deps.queue.enqueue('live.archive', { liveId: live.id, ...target }, { ...target, node: deps.node, ...(priority === undefined ? {} : { priority }) });
  return target.videoId;
}

/**
 * At start: queues again every ended recorded live whose recording is on this node and whose
 * VOD is neither ready, failed for good, nor already queued (the process stopped between
 * the live's end and the job, or the job's row was lost with a restored database).
 * Returns the live ids queued.
 */
export async function requeueUnarchived(deps: ArchiveQueueDeps & { db: Kysely<Database>; config: Pick<Config, 'data_dir'> }): Promise<string[]> {
  const candidates = await deps.db
    .selectFrom('lives')
    .leftJoin('versions', (j) => j.onRef('versions.video_id', '=', 'lives.vod_video_id').on('versions.version', '=', 1))
    .select(['lives.id as id', 'lives.vod_video_id as vod_video_id', 'versions.status as version_status'])
    .where('lives.status', '=', 'ended')
    .where('lives.record', '=', 1)
    .where((eb) => eb.or([eb('lives.vod_video_id', 'is', null), eb('versions.status', '=', 'processing')]))
    .execute();
  const queued: string[] = [];
  for (const c of candidates) {
    // Not this node's recording, or nothing was recorded (no segment was ever published).
    const journal = new LiveJournal(liveWorkDir(deps.config, c.id), () => undefined);
    if (!(await journal.read()).some((entry) => entry.t === 'segment')) continue;
    if (c.vod_video_id) {
      const active = await deps.db
        .selectFrom('jobs')
        .select('id')
        .where('type', '=', 'live.archive')
        .where('video_id', '=', c.vod_video_id)
        .where('status', 'in', ['queued', 'running'])
        .executeTakeFirst();
      if (active) continue;
    }
    const live = await deps.lives.find(c.id);
    if (!live) continue;
    await queueArchive(deps, live);
    queued.push(c.id);
  }
  return queued;
}

/**
 * Publishes the recording of an ended live as the ready `target` version. Idempotent: an
 * attempt cut short (a crash) left at most a partial staging prefix, which is wiped first.
 */
export async function archiveLive(deps: ArchiveDeps, live: LiveRow, packager: LivePackager, target: ArchiveTarget): Promise<void> {
  const timelines = packager.timelines();
  const variants = packager.masterVariants().filter((v) => (timelines.get(v.name)?.length ?? 0) > 0);
  const audio = timelines.get(AUDIO_RENDITION);
  const top = variants[variants.length - 1];
  const lowest = variants[0];
  if (!top || !lowest) throw new Error('the live recorded no video');

  const { videoId, version } = target;
  const staging = objectKeys.staging(videoId, version);
  await deps.store.deletePrefix(staging);
  // One dir per live: an attempt cut short by a crash left its files here (its ffmpeg is reaped at start).
  const work = join(deps.config.data_dir, 'work', `archive-${live.id}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    await deps.catalog.setProgress(videoId, version, 'publish', 0);
    const rendered = [...variants.map((v) => v.name), ...(audio?.length ? [AUDIO_RENDITION] : [])];
    const target = targetDurationOf(deps.config.transcode.segment_s, [...timelines.values()].flat().map((s) => s.duration));
    for (const name of rendered) {
      deps.signal?.throwIfAborted();
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
      signal: deps.signal,
    });
    const lowFiles: string[] = [];
    for (const [i, run] of runsOf(timelines.get(lowest.name)!).entries()) {
      const file = join(work, `low-${i}.mp4`);
      await joinRun(packager, run, file);
      lowFiles.push(file);
    }
    deps.signal?.throwIfAborted();
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

    const ladder = variants.map((v) => ({ name: v.name, width: v.width, height: v.height, bitrate_kbps: Math.round(v.bandwidth / 1000), codecs: v.codecs }));
    const manifest: MediaManifest = {
      version,
      // A recording has HLS only.
      ...versionUrls(deps.config.public_url, videoId, version),
      dash_url: null,
      duration_ms,
      ladder,
      loudness: null,
      encoder: deps.encoder,
    };
    await publishVersion(deps, {
      videoId,
      version,
      staging,
      manifest,
      fields: { duration_ms, width: top.width, height: top.height, loudness: null, encoder: deps.encoder },
      renditions: ladder,
      // Past this point the version is published: a late abort must not leave it half done.
      beforeMove: () => deps.signal?.throwIfAborted(),
    });
  } catch (err) {
    await deps.store.deletePrefix(staging).catch(() => undefined);
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
