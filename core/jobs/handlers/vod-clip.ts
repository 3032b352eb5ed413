/**
 * `vod.clip`: a new video made from a range of a ready one in seconds, not a transcode
 * (core/media/clip-plan.ts has the design). Per rendition, the parent's segments in the range
 * are taken as they are; only the partial first and last ones are cut (one ffmpeg run for all
 * of them, clip-command.ts). The clip's version directory is assembled in a work dir (on a
 * file store its segments are hard links of the parent's: no bytes copied, and deleting the
 * parent removes only its own names; on S3 they are copied), its master and MPD are written
 * by the ladder's own code, its storyboard reuses the parent's sheets, and it is published
 * like any version. Nothing is read from the parent's source.
 */
import { copyFile, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { versionUrls } from '../../catalog/videos.js';
import { AppError, type VideoError } from '../../errors.js';
import { clipStoryboard, pieceStart, planClip, snapRange, type ClipRange, type PieceAnchor, type RenditionTimeline, type TimelineSegment } from '../../media/clip-plan.js';
import { buildCutArgs, PIECE_INIT, PIECE_SEGMENT, type CutJob } from '../../media/clip-command.js';
import { runFfmpeg } from '../../media/ffmpeg.js';
import { readInitTimescale, readSampleDescription, readSegmentTiming, withDecodeTime } from '../../media/fmp4.js';
import { buildLadder } from '../../media/ladder.js';
import { writeLadderManifests, type LadderLayout } from '../../media/ladder-manifests.js';
import { parseMediaPlaylist } from '../../media/playlists.js';
import { makePoster } from '../../media/poster.js';
import { initSegmentName, MEDIA_PLAYLIST } from '../../media/transcode-command.js';
import type { ProbeResult } from '../../media/types.js';
import { announceMediaChanged, announceVideo } from '../../plugins/video-hooks.js';
import type { Services } from '../../services.js';
import { objectKeys } from '../../storage/object-store.js';
import type { JobContext, JobHandler, RunnableJob } from '../runner.js';
import type { MediaManifest } from '../../media/types.js';
import { listFiles, type MediaToolkit } from './vod-process.js';
import { publishVersion } from '../../catalog/version-publish.js';

/** Segments this close outside the range are fetched too: the plan decides on exact tfdt. */
const FETCH_MARGIN_S = 0.25;
/** An audio cut this close to a segment boundary is taken at the boundary. */
const AUDIO_TOLERANCE_S = 0.05;
/** Parent objects fetched at once (S3). */
const FETCH_CONCURRENCY = 8;
/** Segments of the top rung the clip's poster is chosen from. */
const POSTER_SEGMENTS = 3;

/** "30000/1001" or "25" as a number. */
function frameRateOf(text: string | undefined): number {
  const [num, den] = (text ?? '').split('/').map(Number);
  return num && (den ?? 1) ? num / (den ?? 1) : 0;
}

async function inBatches<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(work));
}

/** A parent rendition with its init and the segments the clip may use, fetched to local files. */
interface LocalRendition {
  timeline: RenditionTimeline;
  init: Uint8Array;
  /** Local file of each fetched segment, by URI. */
  files: Map<string, string>;
}

function sameSampleDescription(a: Uint8Array, b: Uint8Array): boolean {
  const [x, y] = [readSampleDescription(a), readSampleDescription(b)];
  return x !== null && y !== null && Buffer.compare(x, y) === 0;
}

export function vodClipHandler(s: Services, media: MediaToolkit): JobHandler<'vod.clip'> {
  const { catalog, store, config } = s;

  /** A parent object as a local file: a hard link when the store is local disk, else a download. */
  async function fetchObject(key: string, file: string): Promise<void> {
    await mkdir(dirname(file), { recursive: true });
    const local = store.localPath?.(key);
    if (!local) return store.download(key, file);
    await link(local, file).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new AppError('E_NOT_FOUND', `the parent's file ${key} is gone`);
      await copyFile(local, file);
    });
  }

  async function readObject(key: string): Promise<Buffer> {
    const found = await store.get(key);
    if (!found) throw new AppError('E_NOT_FOUND', `the parent's file ${key} is gone`);
    const chunks: Buffer[] = [];
    for await (const chunk of found.body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** Fetches a parent rendition's init, its first segment (time 0) and the segments near the range. */
  async function fetchRendition(parentPrefix: string, name: string, range: ClipRange, dir: string): Promise<LocalRendition> {
    const playlist = parseMediaPlaylist((await readObject(`${parentPrefix}${name}/${MEDIA_PLAYLIST}`)).toString('utf8'));
    if (!playlist.initUri || playlist.segments.length === 0) throw new AppError('E_NOT_FOUND', `the parent's rendition ${name} has no segments`);
    let at = 0;
    const wanted = playlist.segments.filter((seg, k) => {
      const from = at;
      at += seg.duration;
      return k === 0 || (at > range.start_s - FETCH_MARGIN_S && from < range.end_s + FETCH_MARGIN_S);
    });
    const files = new Map<string, string>();
    await inBatches([playlist.initUri, ...wanted.map((w) => w.uri)], FETCH_CONCURRENCY, async (uri) => {
      const file = join(dir, name, uri);
      await fetchObject(`${parentPrefix}${name}/${uri}`, file);
      files.set(uri, file);
    });
    const init = await readFile(files.get(playlist.initUri)!);
    const segments: TimelineSegment[] = [];
    for (const seg of wanted) {
      const timing = readSegmentTiming(await readFile(files.get(seg.uri)!));
      if (!timing) throw new AppError('E_TRANSCODE_FAILED', `segment ${name}/${seg.uri} of the parent is unreadable`);
      segments.push({ uri: seg.uri, start: timing.start, ticks: timing.duration });
    }
    // Segment 0 is always fetched: its tfdt is the video's time 0.
    return { init, files, timeline: { name, timescale: readInitTimescale(init) ?? 90_000, origin: segments[0]!.start, segments } };
  }

  async function run(job: RunnableJob<'vod.clip'>, ctx: JobContext): Promise<void> {
    const { videoId, version, parentId, parentVersion } = job.payload;
    const log = ctx.logger;
    const signal = ctx.signal;
    if (!(await catalog.find(videoId)) || !(await catalog.version(videoId, version))) {
      log.info('clip is gone; nothing to do');
      return;
    }
    const parent = await catalog.version(parentId, parentVersion);
    if (!parent?.manifest || parent.status !== 'ready' || parent.media_removed_at !== null) {
      throw new AppError('E_NOT_FOUND', `video ${parentId} v${parentVersion} is no longer available to clip`);
    }
    const manifest = JSON.parse(parent.manifest) as MediaManifest;
    const probe = parent.probe ? (JSON.parse(parent.probe) as ProbeResult) : null;
    const started = Date.now();
    const workDir = join(config.data_dir, 'work', `${videoId}-v${version}-clip-job${job.id}-a${job.attempts}`);
    const parentDir = join(workDir, 'parent');
    const outDir = join(workDir, 'out');
    const staging = objectKeys.staging(videoId, version);
    await rm(workDir, { recursive: true, force: true });
    await mkdir(outDir, { recursive: true });
    await store.deletePrefix(staging);
    await catalog.setProgress(videoId, version, 'transcode', 0);
    try {
      const parentPrefix = objectKeys.media(parentId, parentVersion);
      const audio = manifest.audio ?? [];
      const videoRungs = manifest.ladder.filter((r) => r.width > 0);
      const names = [...videoRungs.map((r) => r.name), ...audio.map((a) => a.name)];
      const requested: ClipRange = { start_s: job.payload.start_ms / 1000, end_s: job.payload.end_ms / 1000 };
      const renditions = new Map<string, LocalRendition>();
      await Promise.all(names.map(async (name) => renditions.set(name, await fetchRendition(parentPrefix, name, requested, parentDir))));
      signal.throwIfAborted();

      // The reference track (the first rung, or the first audio) decides where a snapped clip goes.
      const reference = renditions.get(names[0]!)!.timeline;
      const range = job.payload.snap ? snapRange(reference, requested) : requested;
      const fps = frameRateOf(videoRungs[0]?.frame_rate) || 30;
      const targets = probe?.has_video ? buildLadder(probe, config.transcode.ladder) : [];

      // Plan every rendition; collect the cuts for one ffmpeg run.
      const cuts: (CutJob & { rendition: string; index: number; anchor: PieceAnchor })[] = [];
      const plans = new Map<string, ReturnType<typeof planClip>>();
      for (const name of names) {
        const local = renditions.get(name)!;
        const rung = videoRungs.find((r) => r.name === name);
        const plan = planClip(local.timeline, range, rung ? 0.5 / fps : AUDIO_TOLERANCE_S);
        if (plan.length === 0) throw new AppError('E_BAD_REQUEST', `the range ${range.start_s}–${range.end_s} s holds no media of ${name}`);
        plans.set(name, plan);
        for (const [index, piece] of plan.entries()) {
          if (piece.kind !== 'cut') continue;
          const input = join(workDir, 'cuts', `${name}-${index}.mp4`);
          await mkdir(dirname(input), { recursive: true });
          await writeFile(input, Buffer.concat([local.init, await readFile(local.files.get(piece.segment.uri)!)]));
          const video_kbps = targets.find((t) => t.name === name)?.video_kbps ?? Math.round((rung?.bitrate_kbps ?? 1000) * 0.8);
          cuts.push({
            input,
            from_s: piece.from_s,
            to_s: piece.to_s,
            outDir: join(workDir, 'cuts', `${name}-${index}`),
            treatment: rung ? { kind: 'video', video_kbps } : { kind: 'audio' },
            rendition: name,
            index,
            anchor: piece.anchor,
          });
        }
      }
      if (cuts.length > 0) {
        await Promise.all(cuts.map((c) => mkdir(c.outDir, { recursive: true })));
        await runFfmpeg(
          media.ffmpegPath,
          buildCutArgs({ cuts, encoder: media.encoder, preset: config.transcode.preset, fps, segmentSeconds: config.transcode.segment_s }),
          { signal },
        );
      }
      await catalog.setProgress(videoId, version, 'publish', 50);

      // Assemble each rendition: the parent's init, then its pieces as seg-00000.m4s, ….
      for (const name of names) {
        const local = renditions.get(name)!;
        const dir = join(outDir, name);
        await mkdir(dir, { recursive: true });
        const initName = initSegmentName(name);
        await writeFile(join(dir, initName), local.init);
        const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-INDEPENDENT-SEGMENTS', `#EXT-X-MAP:URI="${initName}"`];
        let longest = 0;
        for (const [index, piece] of plans.get(name)!.entries()) {
          const uri = `seg-${String(index).padStart(5, '0')}.m4s`;
          let seconds: number;
          if (piece.kind === 'reuse') {
            // The same bytes as the parent's segment (a hard link on a file store).
            await link(local.files.get(piece.segment.uri)!, join(dir, uri)).catch(() => copyFile(local.files.get(piece.segment.uri)!, join(dir, uri)));
            seconds = piece.segment.ticks / local.timeline.timescale;
          } else {
            const cut = cuts.find((c) => c.rendition === name && c.index === index)!;
            // Copied audio frames are the parent's own; a re-encoded picture must fit the parent's init.
            if (cut.treatment.kind === 'video' && !sameSampleDescription(await readFile(join(cut.outDir, PIECE_INIT)), local.init)) {
              throw new AppError(
                'E_TRANSCODE_FAILED',
                `the re-encoded edge of ${name} does not match the parent's codec setup (the parent was encoded with other settings); ask for "snap": true`,
              );
            }
            const bytes = await readFile(join(cut.outDir, PIECE_SEGMENT));
            const ticks = readSegmentTiming(bytes)?.duration ?? 0;
            if (ticks <= 0) throw new AppError('E_TRANSCODE_FAILED', `the cut piece of ${name} is empty`);
            await writeFile(join(dir, uri), withDecodeTime(bytes, pieceStart(piece.anchor, ticks)));
            seconds = ticks / local.timeline.timescale;
          }
          longest = Math.max(longest, seconds);
          lines.push(`#EXTINF:${seconds.toFixed(6)},`, uri);
        }
        lines[2] = `#EXT-X-TARGETDURATION:${Math.max(1, Math.round(longest))}`;
        await writeFile(join(dir, MEDIA_PLAYLIST), `${lines.join('\n')}\n#EXT-X-ENDLIST\n`);
      }
      await rm(join(workDir, 'cuts'), { recursive: true, force: true });

      const layout: LadderLayout = {
        video: videoRungs.map(({ name, width, height }) => ({ name, width, height })),
        frameRate: fps,
        videoRange: 'SDR',
        audio,
        segmentSeconds: config.transcode.segment_s,
      };
      const measured = await writeLadderManifests(outDir, layout);

      // Storyboard: the parent's tiles of the range, same sheets.
      const parentVtt = (await readObject(`${parentPrefix}storyboard.vtt`)).toString('utf8');
      const storyboard = clipStoryboard(parentVtt, range, measured.duration_ms);
      await writeFile(join(outDir, 'storyboard.vtt'), storyboard.vtt);
      await Promise.all(storyboard.sheets.map((sheet) => fetchObject(`${parentPrefix}${sheet}`, join(outDir, sheet))));

      // Poster: chosen from the clip's first seconds of the top rung (the parent's poster without video).
      const top = videoRungs.reduce<(typeof videoRungs)[number] | undefined>((big, r) => (!big || r.height > big.height ? r : big), undefined);
      if (top) {
        const topDir = join(outDir, top.name);
        const firstSegments = parseMediaPlaylist(await readFile(join(topDir, MEDIA_PLAYLIST), 'utf8')).segments.slice(0, POSTER_SEGMENTS);
        const posterSource = join(workDir, 'poster-source.mp4');
        const parts = [join(topDir, initSegmentName(top.name)), ...firstSegments.map((seg) => join(topDir, seg.uri))];
        await writeFile(posterSource, Buffer.concat(await Promise.all(parts.map((p) => readFile(p)))));
        await makePoster(media.ffmpegPath, posterSource, join(outDir, 'poster.jpg'), {
          duration_ms: Math.min(measured.duration_ms, POSTER_SEGMENTS * config.transcode.segment_s * 1000),
          width: top.width,
          height: top.height,
          signal,
        });
      } else {
        await fetchObject(`${parentPrefix}poster.jpg`, join(outDir, 'poster.jpg'));
      }

      const clipManifest: MediaManifest = {
        version,
        ...versionUrls(config.public_url, videoId, version),
        duration_ms: measured.duration_ms,
        ladder: videoRungs.length > 0 ? measured.renditions : measured.audio.map((a) => ({ name: a.name, width: 0, height: 0, bitrate_kbps: a.bitrate_kbps, codecs: a.codecs })),
        audio: measured.audio,
        loudness: manifest.loudness,
        encoder: media.encoder,
        ...(manifest.source_dynamic_range ? { source_dynamic_range: manifest.source_dynamic_range } : {}),
      };
      // Publish: staging, then the version prefix (the one publish step, as vod.process).
      const files = await listFiles(outDir);
      await inBatches(files, FETCH_CONCURRENCY, (rel) => store.putFile(staging + rel, join(outDir, rel)).then(() => undefined));
      await publishVersion(s, {
        videoId,
        version,
        staging,
        manifest: clipManifest,
        fields: { duration_ms: measured.duration_ms, width: top?.width ?? 0, height: top?.height ?? 0, loudness: manifest.loudness, encoder: media.encoder },
        renditions: clipManifest.ladder.map((r) => ({ name: r.name, width: r.width, height: r.height, bitrate_kbps: r.bitrate_kbps, codecs: r.codecs })),
        beforeMove: async () => {
          if (!(await catalog.find(videoId))) throw new Error('the clip was deleted');
        },
      });
      log.info(
        { parent_id: parentId, start_s: range.start_s, end_s: range.end_s, cut_pieces: cuts.length, elapsed_ms: Date.now() - started },
        'clip ready',
      );
      announceMediaChanged(s, { videoId, reason: 'new_version', version, replaced: [] });
      await announceVideo(s, videoId, version);
    } catch (err) {
      if (!(await catalog.find(videoId).catch(() => true))) {
        await store.deletePrefix(staging);
        await store.deletePrefix(objectKeys.media(videoId, version));
        log.info('clip deleted while being made; removed what this job wrote');
        return;
      }
      throw err;
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  async function failed(job: RunnableJob<'vod.clip'>, error: VideoError, final: boolean): Promise<void> {
    const { videoId, version } = job.payload;
    await store.deletePrefix(objectKeys.staging(videoId, version));
    if (!final) return;
    await catalog.markFailed(videoId, version, error);
    await announceVideo(s, videoId, version, error);
  }

  return { run, failed };
}
