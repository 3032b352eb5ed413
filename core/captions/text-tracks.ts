/*
 * Text tracks in the manifests, written from cues and the version's own files (pure: no IO).
 *
 * HLS: each caption becomes a segmented WebVTT media playlist whose segments line up with
 * the video's (same count, same EXTINF), every segment a standalone WebVTT file holding the
 * cues that overlap it (a cue crossing a boundary is repeated, as RFC 8216 §3.5 allows) and
 * an X-TIMESTAMP-MAP tying LOCAL 0 to the video's first decode time in 90 kHz units: for
 * CMAF that is the first segment's tfdt, which is what hls.js and Safari map cue times by.
 * The master gains a SUBTITLES group and every variant names it.
 *
 * DASH: each caption is one text AdaptationSet whose Representation is the whole WebVTT file
 * (BaseURL), which Shaka and dash.js read as a side-loaded track on the period's timeline.
 *
 * The version's master.m3u8 and master.mpd are never rewritten (they are immutable and may be
 * cached anywhere); the published text tracks go into a new master revision next to them.
 */
import { languageTag, quotedString } from '../media/hls-master.js';
import { escapeXml } from '../media/dash-manifest.js';
import { writeWebVtt, type Cue } from './cues.js';

/** One video segment on the timeline, milliseconds. */
export interface SegmentSpan {
  startMs: number;
  durationMs: number;
}

/** A caption as the manifests name it. */
export interface PublishedTrack {
  language: string;
  label: string;
  kind: 'subtitles' | 'captions';
  /** Segmented playlist relative to the version root ("cc-1a2b3c4d5e/index.m3u8"). */
  playlistUri: string;
  /** Whole WebVTT file relative to the version root ("cc-1a2b3c4d5e.vtt"). */
  fileUri: string;
}

/** The SUBTITLES group id in every master revision. */
export const SUBTITLES_GROUP = 'subs';

/** Segment timeline of a media playlist's EXTINF durations. */
export function segmentSpans(mediaPlaylist: string): SegmentSpan[] {
  const spans: SegmentSpan[] = [];
  let at = 0;
  for (const m of mediaPlaylist.matchAll(/^#EXTINF:([\d.]+)/gm)) {
    const durationMs = Math.round(Number(m[1]) * 1000);
    spans.push({ startMs: at, durationMs });
    at += durationMs;
  }
  return spans;
}

/** The first media playlist a master lists (its first variant), relative to the master. */
export function firstVariantUri(master: string): string | undefined {
  return master.split('\n').find((l) => l.trim() !== '' && !l.startsWith('#'))?.trim();
}

/** The WebVTT segments of one caption: one file per video segment, cues overlapping it. */
export function segmentCues(cues: readonly Cue[], spans: readonly SegmentSpan[], timestampMap: string): string[] {
  return spans.map((span, i) => {
    const end = i === spans.length - 1 ? Infinity : span.startMs + span.durationMs;
    const inside = cues.filter((c) => c.endMs > span.startMs && c.startMs < end);
    return writeWebVtt(inside, [timestampMap]);
  });
}

/** `X-TIMESTAMP-MAP` for a video whose first decode time is `firstDecodeTime`/`timescale` s. */
export function timestampMap(firstDecodeTime: number, timescale: number): string {
  // MPEGTS is a 33-bit 90 kHz clock.
  const mpegts = Math.round((firstDecodeTime / timescale) * 90_000) % 2 ** 33;
  return `X-TIMESTAMP-MAP=MPEGTS:${mpegts},LOCAL:00:00:00.000`;
}

/** Name of segment `index` inside a caption's directory. */
export function cueSegmentName(index: number): string {
  return `${String(index).padStart(5, '0')}.vtt`;
}

/** The segmented WebVTT media playlist of a caption (segments named by cueSegmentName). */
export function subtitlePlaylist(spans: readonly SegmentSpan[]): string {
  const target = Math.max(1, ...spans.map((s) => Math.ceil(s.durationMs / 1000)));
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', `#EXT-X-TARGETDURATION:${target}`, '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD'];
  spans.forEach((s, i) => lines.push(`#EXTINF:${(s.durationMs / 1000).toFixed(3)},`, cueSegmentName(i)));
  lines.push('#EXT-X-ENDLIST', '');
  return lines.join('\n');
}

/** HLS CHARACTERISTICS of a closed-caption-like track (transcribes dialog and sounds). */
const CAPTION_CHARACTERISTICS = 'public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound';

/** Track names unique within their group (HLS requires NAME unique per GROUP-ID). */
function uniqueLabels(tracks: readonly PublishedTrack[]): string[] {
  const seen = new Set<string>();
  return tracks.map((t) => {
    let name = t.label;
    for (let n = 2; seen.has(name); n++) name = `${t.label} (${n})`;
    seen.add(name);
    return name;
  });
}

/** The master with a SUBTITLES group of `tracks` (unchanged when there are none). */
export function masterWithSubtitles(master: string, tracks: readonly PublishedTrack[]): string {
  if (tracks.length === 0) return master;
  const names = uniqueLabels(tracks);
  const media = tracks.map((t, i) => {
    const attrs = [
      'TYPE=SUBTITLES',
      `GROUP-ID=${quotedString(SUBTITLES_GROUP)}`,
      `NAME=${quotedString(names[i]!)}`,
      `LANGUAGE=${quotedString(languageTag(t.language))}`,
      'DEFAULT=NO',
      'AUTOSELECT=YES',
      'FORCED=NO',
      ...(t.kind === 'captions' ? [`CHARACTERISTICS=${quotedString(CAPTION_CHARACTERISTICS)}`] : []),
      `URI=${quotedString(t.playlistUri)}`,
    ];
    return `#EXT-X-MEDIA:${attrs.join(',')}`;
  });
  const lines = master.replace(/\n+$/, '').split('\n');
  const firstVariant = lines.findIndex((l) => l.startsWith('#EXT-X-STREAM-INF:'));
  const out = lines.map((l) => (l.startsWith('#EXT-X-STREAM-INF:') ? `${l},SUBTITLES=${quotedString(SUBTITLES_GROUP)}` : l));
  out.splice(firstVariant < 0 ? out.length : firstVariant, 0, ...media, '');
  return `${out.join('\n')}\n`;
}

/** The MPD with one text AdaptationSet per track, after the period's others. */
export function mpdWithTextTracks(mpd: string, tracks: readonly PublishedTrack[]): string {
  if (tracks.length === 0) return mpd;
  const used = [...mpd.matchAll(/<AdaptationSet id="(\d+)"/g)].map((m) => Number(m[1]));
  let id = Math.max(-1, ...used) + 1;
  const names = uniqueLabels(tracks);
  const sets = tracks.flatMap((t, i) => [
    `    <AdaptationSet id="${id++}" contentType="text" mimeType="text/vtt" lang="${escapeXml(languageTag(t.language))}">`,
    // Schema order: Label (RepresentationBase) before Role (AdaptationSet).
    `      <Label>${escapeXml(names[i]!)}</Label>`,
    `      <Role schemeIdUri="urn:mpeg:dash:role:2011" value="${t.kind === 'captions' ? 'caption' : 'subtitle'}"/>`,
    `      <Representation id="text-${i}" bandwidth="256">`,
    `        <BaseURL>${escapeXml(t.fileUri)}</BaseURL>`,
    '      </Representation>',
    '    </AdaptationSet>',
  ]);
  const at = mpd.lastIndexOf('  </Period>');
  if (at < 0) throw new Error('the MPD has no Period to add text tracks to');
  return `${mpd.slice(0, at)}${sets.join('\n')}\n${mpd.slice(at)}`;
}
