/*
 * The ladder of a live: the configured rungs up to the ingest's height (core/media/ladder.ts,
 * as for VOD), with the top rung replaced by the ingest itself, copied, when the ingest is
 * H.264 at a bitrate that fits that rung (at most `maxRatio` × its bitrate). The ladder is
 * fixed by the first publish; a reconnect keeps the same rungs (the playlists and the
 * recording continue) and copies the top one again only if the new ingest still matches it.
 */
import { buildLadder, type RungSpec } from '../core/media/ladder.js';
import type { IngestMetadata } from '../core/live/ingest.js';
import type { LiveRung } from './live-command.js';

/** FLV video codec id of H.264 (AVC). */
export const FLV_CODEC_H264 = 7;

function fits(ingest: IngestMetadata, rung: { width: number; height: number; video_kbps: number }, maxRatio: number): boolean {
  return (
    ingest.videoCodecId === FLV_CODEC_H264 &&
    ingest.videoKbps > 0 &&
    ingest.videoKbps <= rung.video_kbps * maxRatio &&
    ingest.width === rung.width &&
    ingest.height === rung.height
  );
}

/** The first run's ladder, smallest first. */
export function firstLiveLadder(ingest: IngestMetadata, rungs: readonly RungSpec[], maxRatio: number): LiveRung[] {
  const ladder: LiveRung[] = buildLadder(ingest, rungs).map((r) => ({ ...r, passthrough: false }));
  const top = ladder[ladder.length - 1];
  if (!top) return ladder;
  const own = { name: top.name, width: ingest.width, height: ingest.height, video_kbps: top.video_kbps };
  const short = Math.min(ingest.width, ingest.height);
  // The copy keeps the ingest's own size; its name follows its short side when that is not the rung's.
  if (fits(ingest, own, maxRatio)) {
    const sameSize = Math.min(top.width, top.height) === short;
    ladder[ladder.length - 1] = { ...own, name: sameSize ? top.name : `${short}p`, video_kbps: Math.round(ingest.videoKbps), passthrough: true };
  }
  return ladder;
}

/** A later run's ladder: the same rungs, the top copied only if the ingest still fits it exactly. */
export function laterLiveLadder(previous: readonly LiveRung[], ingest: IngestMetadata, maxRatio: number): LiveRung[] {
  return previous.map((r, i) => ({
    ...r,
    passthrough: i === previous.length - 1 && r.passthrough && fits(ingest, { ...r, video_kbps: r.video_kbps }, maxRatio),
  }));
}
