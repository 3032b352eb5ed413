/*
 * The HLS master playlist, written from what the ladder really produced (not ffmpeg's).
 *
 * Audio renditions are grouped by what a player must be able to decode: one EXT-X-MEDIA
 * group per (codecs, channels), e.g. stereo AAC and 5.1 E-AC-3, each listing one rendition
 * per source track (language). Every video variant is listed once per audio group, so a
 * player that cannot decode surround still finds a stereo variant (RFC 8216 §4.3.4.2: the
 * variant's CODECS names its group's codec). A version without video (audio-only) lists one
 * variant per audio group pointing at that group's default rendition.
 *
 * BANDWIDTH is the real peak (max over segments of bytes·8/duration) of the video plus the
 * largest peak in its audio group, which is the default rendition's when the group has one
 * track; AVERAGE-BANDWIDTH the same with whole-file averages.
 */
import type { AudioRenditionInfo, DynamicRange } from './types.js';

/** Measured bit rates of one rendition's media segments, bits per second. */
export interface MeasuredBitrate {
  peakBps: number;
  averageBps: number;
}

/** One video rendition as the master lists it. */
export interface MasterVideo extends MeasuredBitrate {
  /** Media playlist URI relative to the master ("240p/index.m3u8"). */
  uri: string;
  width: number;
  height: number;
  /** Output frames per second (29.97 for NTSC). */
  frameRate: number;
  /** HLS VIDEO-RANGE. */
  videoRange: DynamicRange;
  /** RFC 6381 codecs of the video alone ("avc1.64001f"). */
  codecs: string;
}

/** One audio rendition as the master lists it. */
export interface MasterAudio extends MeasuredBitrate {
  info: AudioRenditionInfo;
  uri: string;
}

export interface HlsMasterInput {
  video: MasterVideo[];
  audio: MasterAudio[];
}

/** An EXT-X-MEDIA group: the renditions a player may swap between without new decoders. */
export interface AudioGroup {
  id: string;
  codecs: string;
  channels: number;
  renditions: MasterAudio[];
}

/**
 * BCP 47 tag for a source's ISO 639 code: "eng" → "en", "ger" → "de"; "und" when unknown.
 * Both HLS LANGUAGE and DASH @lang are RFC 5646 tags, where the short code is the valid one.
 */
export function languageTag(code: string): string {
  try {
    return Intl.getCanonicalLocales(code.trim() || 'und')[0] ?? 'und';
  } catch {
    return 'und';
  }
}

/** Audio renditions grouped by (codecs, channels); the group holding a default track first. */
export function audioGroups(audio: readonly MasterAudio[]): AudioGroup[] {
  const groups = new Map<string, AudioGroup>();
  for (const a of audio) {
    const key = `${a.info.codecs}/${a.info.channels}`;
    let group = groups.get(key);
    if (!group) {
      const codecName = a.info.codecs.split('.')[0]!.replace(/[^A-Za-z0-9-]/g, '') || 'audio';
      group = { id: `${codecName}-${a.info.channels}ch`, codecs: a.info.codecs, channels: a.info.channels, renditions: [] };
      groups.set(key, group);
    }
    group.renditions.push(a);
  }
  const list = [...groups.values()];
  // Two classes sharing a codec name (mp4a stereo and mp4a 5.1) get distinct ids already via
  // the channel count; a collision beyond that would only come from odd codecs strings.
  list.forEach((g, i) => {
    if (list.findIndex((o) => o.id === g.id) !== i) g.id = `${g.id}-${i}`;
  });
  const rank = (g: AudioGroup): number => (g.renditions.some((r) => r.info.default) ? 0 : 1) * 100 + g.channels;
  return list.sort((a, b) => rank(a) - rank(b));
}

/** The rendition a group starts with: the source's default track, else its first. */
export function groupDefault(group: AudioGroup): MasterAudio {
  return group.renditions.find((r) => r.info.default) ?? group.renditions[0]!;
}

/** An HLS quoted-string attribute value. */
export function quotedString(value: string): string {
  // quoted-string forbids CR, LF and '"'.
  return `"${value.replace(/["\r\n]/g, "'")}"`;
}

function mediaLines(group: AudioGroup): string[] {
  const first = groupDefault(group);
  const names = new Set<string>();
  return group.renditions.map((a) => {
    let name = a.info.label || a.info.name;
    for (let n = 2; names.has(name); n++) name = `${a.info.label || a.info.name} (${n})`;
    names.add(name);
    const attrs = [
      'TYPE=AUDIO',
      `GROUP-ID=${quotedString(group.id)}`,
      `NAME=${quotedString(name)}`,
      `LANGUAGE=${quotedString(languageTag(a.info.language))}`,
      `DEFAULT=${a === first ? 'YES' : 'NO'}`,
      'AUTOSELECT=YES',
      `CHANNELS=${quotedString(String(a.info.channels))}`,
      `URI=${quotedString(a.uri)}`,
    ];
    return `#EXT-X-MEDIA:${attrs.join(',')}`;
  });
}

/** The largest peak and average of a group (what a player may end up fetching). */
function groupBitrate(group: AudioGroup | undefined): MeasuredBitrate {
  if (!group) return { peakBps: 0, averageBps: 0 };
  return {
    peakBps: Math.max(...group.renditions.map((r) => r.peakBps)),
    averageBps: Math.max(...group.renditions.map((r) => r.averageBps)),
  };
}

/** One EXT-X-STREAM-INF of a video rendition, with the group it plays with (if any). */
export function variantBandwidth(video: MeasuredBitrate | null, group: AudioGroup | undefined): MeasuredBitrate {
  const audio = groupBitrate(group);
  return {
    peakBps: Math.ceil((video?.peakBps ?? 0) + audio.peakBps),
    averageBps: Math.ceil((video?.averageBps ?? 0) + audio.averageBps),
  };
}

function streamInf(bitrate: MeasuredBitrate, codecs: string[], extra: string[], group: AudioGroup | undefined): string {
  const attrs = [
    `BANDWIDTH=${bitrate.peakBps}`,
    `AVERAGE-BANDWIDTH=${bitrate.averageBps}`,
    `CODECS=${quotedString(codecs.join(','))}`,
    ...extra,
    ...(group ? [`AUDIO=${quotedString(group.id)}`] : []),
  ];
  return `#EXT-X-STREAM-INF:${attrs.join(',')}`;
}

/** The master playlist text. */
export function buildHlsMaster(input: HlsMasterInput): string {
  const groups = audioGroups(input.audio);
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS', ''];
  for (const group of groups) lines.push(...mediaLines(group));
  if (groups.length) lines.push('');

  if (input.video.length === 0) {
    for (const group of groups) {
      lines.push(streamInf(variantBandwidth(null, group), [group.codecs], [], group), groupDefault(group).uri);
    }
    return `${lines.join('\n')}\n`;
  }
  const videos = [...input.video].sort((a, b) => a.height - b.height || a.peakBps - b.peakBps);
  for (const group of groups.length ? groups : [undefined]) {
    for (const v of videos) {
      const extra = [
        `RESOLUTION=${v.width}x${v.height}`,
        `FRAME-RATE=${v.frameRate.toFixed(3)}`,
        `VIDEO-RANGE=${v.videoRange}`,
      ];
      lines.push(streamInf(variantBandwidth(v, group), [v.codecs, ...(group ? [group.codecs] : [])], extra, group), v.uri);
    }
  }
  return `${lines.join('\n')}\n`;
}
