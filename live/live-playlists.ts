/*
 * The playlists of a live, written by us (not by ffmpeg) because a live spans several
 * packager runs: each publish (first, and every reconnect) is one ffmpeg run with its own
 * init segments, so the playlists join the runs with EXT-X-DISCONTINUITY and a new
 * EXT-X-MAP. The live playlists are a sliding window; the VOD ones list every segment.
 *
 * Files of a rendition live in its directory as `r{run}-init.mp4` and `r{run}-seg-NNNNN.m4s`.
 * A segment may belong to another rendition's directory (a rung dropped because the packager
 * fell behind is continued by the next rung below it, so its viewers keep playing): its URI
 * is then `../{dir}/…`.
 */

/** One segment of a rendition's timeline. */
export interface TimelineSegment {
  /** Packager run (publish) number, from 1. */
  run: number;
  /** Directory (rendition) holding the file. */
  dir: string;
  /** File name inside `dir`. */
  file: string;
  /** File name of the run's init segment inside `dir`. */
  init: string;
  /** Seconds. */
  duration: number;
}

/** A variant of the master playlist. */
export interface MasterEntry {
  name: string;
  width: number;
  height: number;
  /** Peak bits per second (video + audio). */
  bandwidth: number;
  /** RFC 6381 codecs of the variant, audio included. */
  codecs: string;
}

export const LIVE_AUDIO_GROUP = 'aud';

/** `r3-init.mp4` */
export function runInitName(run: number): string {
  return `r${run}-init.mp4`;
}

/** `r3-seg-00012.m4s` */
export function runSegmentName(run: number, file: string): string {
  return `r${run}-${file}`;
}

function uriFrom(fromDir: string, dir: string, file: string): string {
  return dir === fromDir ? file : `../${dir}/${file}`;
}

function body(dir: string, segments: readonly TimelineSegment[]): string[] {
  const out: string[] = [];
  let previous: TimelineSegment | undefined;
  for (const seg of segments) {
    const newRun = !previous || previous.run !== seg.run || previous.dir !== seg.dir;
    if (newRun) {
      if (previous) out.push('#EXT-X-DISCONTINUITY');
      out.push(`#EXT-X-MAP:URI="${uriFrom(dir, seg.dir, seg.init)}"`);
    }
    out.push(`#EXTINF:${seg.duration.toFixed(6)},`, uriFrom(dir, seg.dir, seg.file));
    previous = seg;
  }
  return out;
}

function header(targetDuration: number): string[] {
  return ['#EXTM3U', '#EXT-X-VERSION:7', `#EXT-X-TARGETDURATION:${targetDuration}`];
}

/** Run changes (discontinuities) at timeline indexes 1…last. */
function runChangesThrough(timeline: readonly TimelineSegment[], last: number): number {
  let n = 0;
  for (let i = 1; i <= last && i < timeline.length; i++) {
    const a = timeline[i - 1]!;
    const b = timeline[i]!;
    if (a.run !== b.run || a.dir !== b.dir) n++;
  }
  return n;
}

export interface LivePlaylistOptions {
  /** Segments listed (the sliding window). */
  window: number;
  /** Constant for the whole live (HLS forbids it changing). */
  targetDuration: number;
  /** The live is over: no more segments will come. */
  ended: boolean;
}

/**
 * The live media playlist of directory `dir`: the last `window` segments of its timeline,
 * with MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE counted over the whole timeline.
 */
export function liveMediaPlaylist(dir: string, timeline: readonly TimelineSegment[], opts: LivePlaylistOptions): string {
  const start = Math.max(0, timeline.length - opts.window);
  const lines = [
    ...header(opts.targetDuration),
    `#EXT-X-MEDIA-SEQUENCE:${start}`,
    // Run changes up to and including the first shown segment: their tags are not in the window.
    `#EXT-X-DISCONTINUITY-SEQUENCE:${runChangesThrough(timeline, start)}`,
    '#EXT-X-INDEPENDENT-SEGMENTS',
    ...body(dir, timeline.slice(start)),
  ];
  if (opts.ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/** The finished (VOD) media playlist: every segment, PLAYLIST-TYPE VOD, ENDLIST. */
export function vodMediaPlaylist(dir: string, timeline: readonly TimelineSegment[], targetDuration: number): string {
  const lines = [
    ...header(targetDuration),
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    ...body(dir, timeline),
    '#EXT-X-ENDLIST',
  ];
  return `${lines.join('\n')}\n`;
}

/** The master: one variant per video rendition, the audio (when present) as one shared group. */
export function masterPlaylist(variants: readonly MasterEntry[], audioDir: string | null, mediaPlaylist: string): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
  if (audioDir) {
    lines.push(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${LIVE_AUDIO_GROUP}",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="${audioDir}/${mediaPlaylist}"`,
    );
  }
  for (const v of variants) {
    const audio = audioDir ? `,AUDIO="${LIVE_AUDIO_GROUP}"` : '';
    lines.push(`#EXT-X-STREAM-INF:BANDWIDTH=${v.bandwidth},RESOLUTION=${v.width}x${v.height},CODECS="${v.codecs}"${audio}`, `${v.name}/${mediaPlaylist}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Target duration for segments of these lengths: every EXTINF rounded to the nearest integer fits (RFC 8216 4.3.3.1). */
export function targetDurationOf(segmentSeconds: number, durations: Iterable<number>): number {
  let max = segmentSeconds;
  for (const d of durations) max = Math.max(max, Math.round(d));
  return max;
}

/**
 * The RFC 6381 codec of an fMP4 init segment: `avc1.PPCCLL` from its avcC box, `mp4a.40.2`
 * for AAC; undefined when neither is found.
 */
export function codecOfInit(init: Buffer): string | undefined {
  const avcc = init.indexOf('avcC');
  if (avcc >= 0 && avcc + 8 <= init.length) {
    const hex = (b: number) => b.toString(16).padStart(2, '0');
    return `avc1.${hex(init[avcc + 5]!)}${hex(init[avcc + 6]!)}${hex(init[avcc + 7]!)}`;
  }
  return init.indexOf('mp4a') >= 0 ? 'mp4a.40.2' : undefined;
}
