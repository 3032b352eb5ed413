/**
 * `vod.finish`: the last step of a chunked transcode (core/jobs/chunked.ts), claimed once
 * every part succeeded. It reads the parts' summaries from staging, joins each rendition
 * over the chunks (tfdt continuity checked: no gap or overlap at any join, in any rung or the
 * audio), checks that every chunk's init segments are chunk 0's byte for byte, writes every
 * media playlist, the master and the MPD over the whole, and publishes through the same step
 * as the one pass (`publishStaged`). No media byte is re-encoded or copied; the chunks'
 * storyboard tiles are laid out in sheets here (small JPEGs, a moment's work).
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_TILES } from '../../media/chunk-plan.js';
import { resolveFfmpeg, type FfmpegBinaries } from '../../media/ffmpeg.js';
import { layOutSheets, storyboardVtt, tileNumber } from '../../media/storyboard.js';
import { storyboardTileSize } from '../../media/transcode-command.js';
import type { ProbeResult, TranscodeResult } from '../../media/types.js';
import { AppError } from '../../errors.js';
import type { Services } from '../../services.js';
import { objectKeys } from '../../storage/object-store.js';
import { joinStagedParts } from '../chunk-staging.js';
import type { JobHandler } from '../runner.js';
import { assertDurationHonest, publishStaged, recordVodFailure } from './vod-process.js';

/** How many tiles are fetched at once from a store without local paths. */
const TILE_FETCHES = 8;

export function vodFinishHandler(s: Services): JobHandler<'vod.finish'> {
  const { catalog, store, config } = s;
  // A node that only serves runners may never have needed ffmpeg before: found on first use.
  let binaries: Promise<FfmpegBinaries> | undefined;

  /** The chunks' tiles as sheets in staging; what the result says of them. */
  async function storyboardFromTiles(videoId: string, version: number, jobId: number, probe: ProbeResult, signal: AbortSignal): Promise<TranscodeResult['storyboard']> {
    const staging = objectKeys.staging(videoId, version);
    const spec = config.transcode.storyboard;
    const workDir = join(config.data_dir, 'work', `${videoId}-v${version}-finish-job${jobId}`);
    const tilesDir = join(workDir, 'tiles');
    const sheetsDir = join(workDir, 'sheets');
    await rm(workDir, { recursive: true, force: true });
    await mkdir(tilesDir, { recursive: true });
    await mkdir(sheetsDir, { recursive: true });
    try {
      const tiles = (await store.list(staging + CHUNK_TILES)).map((o) => o.key).filter((key) => tileNumber(key.slice(key.lastIndexOf('/') + 1)) !== null);
      for (let i = 0; i < tiles.length; i += TILE_FETCHES) {
        await Promise.all(tiles.slice(i, i + TILE_FETCHES).map((key) => store.download(key, join(tilesDir, key.slice(key.lastIndexOf('/') + 1)), { signal })));
      }
      const sheets = await layOutSheets((await (binaries ??= resolveFfmpeg())).ffmpegPath, tilesDir, sheetsDir, spec, signal);
      for (const file of await readdir(sheetsDir)) await store.putFile(staging + file, join(sheetsDir, file));
      const tile = storyboardTileSize(probe, spec);
      return { sheets, tile_width: tile.width, tile_height: tile.height, columns: spec.columns, rows: spec.rows };
    } catch (err) {
      throw new AppError('E_TRANSCODE_FAILED', `storyboard: ${(err as Error).message}`);
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  return {
    async run(job, ctx) {
      const { videoId, version, chunks } = job.payload;
      const log = ctx.logger;
      const row = (await catalog.find(videoId)) ? await catalog.version(videoId, version) : undefined;
      if (!row?.probe) {
        log.info('video or version is gone; nothing to do');
        return;
      }
      const probe = JSON.parse(row.probe) as ProbeResult;
      const staging = objectKeys.staging(videoId, version);
      const joined = await joinStagedParts(s, { videoId, version, ladder: job.payload.ladder, probe }, { final: true, chunks });
      if (!joined) throw new AppError('E_TRANSCODE_FAILED', 'the parts are not in staging');
      const { audio, video, manifests: built } = joined;
      const frames = video.reduce((sum, v) => sum + (v.frames ?? 0), 0);
      log.info({ chunks, frames, duration_ms: built.duration_ms }, 'chunks joined');
      const storyboard = await storyboardFromTiles(videoId, version, job.id, probe, ctx.signal);
      if (storyboard) {
        const spec = { ...config.transcode.storyboard, tile_width: storyboard.tile_width, tile_height: storyboard.tile_height, sheets: storyboard.sheets };
        await store.put(`${staging}storyboard.vtt`, storyboardVtt(built.duration_ms, spec));
      }
      const result: TranscodeResult = {
        encoder: video[0]!.result.encoder,
        renditions: built.renditions,
        audio: built.audio,
        loudness: audio.result.loudness,
        duration_ms: built.duration_ms,
        ...(storyboard ? { storyboard } : {}),
      };
      assertDurationHonest(probe.duration_ms, result.duration_ms);
      await publishStaged(s, { videoId, version, staging, probe, result, logger: log });
      // The parts' summaries and init copies went along; no player asks for them.
      await store.deletePrefix(`${objectKeys.media(videoId, version)}chunks/`);
    },
    async failed(job, error, final) {
      // A retry needs the parts in staging: only a final failure fails (and clears) the version.
      if (final) await recordVodFailure(s, job.payload, error, true);
    },
  };
}
