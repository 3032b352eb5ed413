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

/** `r3-part-000045.m4s`: parts are numbered through the run, so the next one's name is known in advance. */
export function runPartName(run: number, part: number): string {
  return `r${run}-part-${String(part).padStart(6, '0')}.m4s`;
}

/** The URI of `dir/file` from the playlist of `fromDir`. */
export function relativeUri(fromDir: string, dir: string, file: string): string {
  return dir === fromDir ? file : `../${dir}/${file}`;
}

/** A part (LL-HLS partial segment) of a segment: its own file in `dir`. */
export interface LivePart {
  run: number;
  dir: string;
  file: string;
  /** File name of the run's init segment inside `dir`. */
  init: string;
  /** Seconds. */
  duration: number;
  /** Starts with a keyframe. */
  independent: boolean;
}

/** What the media playlist says of a segment's run: where to change EXT-X-MAP. */
type RunOf = Pick<TimelineSegment, 'run' | 'dir' | 'init'>;

function sameRun(a: RunOf, b: RunOf): boolean {
  return a.run === b.run && a.dir === b.dir;
}

function partLine(dir: string, p: LivePart): string {
  return `#EXT-X-PART:DURATION=${p.duration.toFixed(5)},URI="${relativeUri(dir, p.dir, p.file)}"${p.independent ? ',INDEPENDENT=YES' : ''}`;
}

/**
 * Segment lines, each preceded by its parts when `partsOf` knows them (LL-HLS), then the
 * parts of the segment in progress (`open`), with DISCONTINUITY and MAP where runs change.
 */
function body(dir: string, segments: readonly TimelineSegment[], partsOf: (i: number) => readonly LivePart[] = () => [], open: readonly LivePart[] = []): string[] {
  const out: string[] = [];
  let previous: RunOf | undefined;
  const enter = (r: RunOf) => {
    if (previous && sameRun(previous, r)) return;
    if (previous) out.push('#EXT-X-DISCONTINUITY');
    out.push(`#EXT-X-MAP:URI="${relativeUri(dir, r.dir, r.init)}"`);
    previous = r;
  };
  segments.forEach((seg, i) => {
    enter(seg);
    for (const p of partsOf(i)) out.push(partLine(dir, p));
    out.push(`#EXTINF:${seg.duration.toFixed(6)},`, relativeUri(dir, seg.dir, seg.file));
  });
  if (open.length > 0) enter(open[0]!);
  for (const p of open) out.push(partLine(dir, p));
  return out;
}

function header(targetDuration: number, version = 7): string[] {
  return ['#EXTM3U', `#EXT-X-VERSION:${version}`, `#EXT-X-TARGETDURATION:${targetDuration}`];
}

/** Run changes (discontinuities) at timeline indexes 1…last. */
function runChangesThrough(timeline: readonly TimelineSegment[], last: number): number {
  let n = 0;
  for (let i = 1; i <= last && i < timeline.length; i++) {
    if (!sameRun(timeline[i - 1]!, timeline[i]!)) n++;
  }
  return n;
}

/** Where another rendition is (EXT-X-RENDITION-REPORT): its last part, or last segment. */
export interface RenditionReport {
  /** Relative URI of its media playlist. */
  uri: string;
  lastMsn: number;
  /** Absent when it has no parts listed yet. */
  lastPart?: number;
}

/** Apple Low-Latency HLS state of one rendition (RFC 8216bis 4.4.4.9, 4.4.5.2, 4.4.5.3). */
export interface LowLatencyParts {
  /** EXT-X-PART-INF PART-TARGET, seconds: no part is longer. */
  partTarget: number;
  /** Parts of timeline segment `index` (only the last few segments keep theirs listed). */
  partsOf(index: number): readonly LivePart[];
  /** Parts of the segment in progress (Media Sequence Number = timeline length). */
  open: readonly LivePart[];
  /** URI of the next part, not yet there (EXT-X-PRELOAD-HINT). */
  nextPart?: string | undefined;
  reports: readonly RenditionReport[];
}

export interface LivePlaylistOptions {
  /** Segments listed (the sliding window, or the DVR window). */
  window: number;
  /** Seconds the run's segmenter aims for: the smallest target duration. */
  segmentSeconds: number;
  /** The live is over: no more segments will come. */
  ended: boolean;
  /** LL-HLS parts; without it a plain live playlist. */
  parts?: LowLatencyParts | undefined;
}

/** Player hold-back from the live edge in parts: the three RFC 8216bis recommends. */
export const PART_HOLD_BACK_PARTS = 3;

/**
 * The live media playlist of directory `dir`: the last `window` segments of its timeline,
 * with MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE counted over the whole timeline, and (LL-HLS)
 * the parts of the latest segments and of the one in progress. The target duration is that of
 * the segments listed: one odd segment raises it only while it is in the window.
 */
export function liveMediaPlaylist(dir: string, timeline: readonly TimelineSegment[], opts: LivePlaylistOptions): string {
  const start = Math.max(0, timeline.length - opts.window);
  const shown = timeline.slice(start);
  // An ended playlist keeps its parts (ENDLIST added, nothing more hinted): a player that
  // followed them must see the same parts end the stream. Dropping them made hls.js switch
  // from parts to whole segments at the very end, reload the last segment, and never
  // signal end of stream (the live page stalled a frame before the end).
  const ll = opts.parts;
  const open = opts.ended ? [] : (ll?.open ?? []);
  const lines = [
    ...header(targetDurationOf(opts.segmentSeconds, shown.map((s) => s.duration)), ll ? 9 : 7),
    ...(ll
      ? [
          `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${(ll.partTarget * PART_HOLD_BACK_PARTS).toFixed(3)}`,
          `#EXT-X-PART-INF:PART-TARGET=${ll.partTarget.toFixed(3)}`,
        ]
      : []),
    `#EXT-X-MEDIA-SEQUENCE:${start}`,
    // Run changes up to and including the first shown segment: their tags are not in the window.
    `#EXT-X-DISCONTINUITY-SEQUENCE:${runChangesThrough(timeline, start)}`,
    '#EXT-X-INDEPENDENT-SEGMENTS',
    ...(ll ? body(dir, shown, (i) => ll.partsOf(start + i), open) : body(dir, shown)),
  ];
  if (ll?.nextPart && !opts.ended) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${ll.nextPart}"`);
  for (const r of opts.ended ? [] : (ll?.reports ?? [])) {
    lines.push(`#EXT-X-RENDITION-REPORT:URI="${r.uri}",LAST-MSN=${r.lastMsn}${r.lastPart === undefined ? '' : `,LAST-PART=${r.lastPart}`}`);
  }
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
