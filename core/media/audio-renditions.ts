/*
 * The audio ladder of one source: which audio renditions a version gets.
 *
 * Decisions:
 * - Every source audio track (up to `transcode.max_audio_tracks`, in source order) becomes a
 *   stereo AAC rendition, so a film's dubs and commentary all survive.
 * - A 5.1/7.1 track also keeps a surround rendition (AAC, 6 or 8 channels) beside its stereo
 *   one. AAC rather than E-AC-3: browsers decode multichannel AAC through MSE, most do not
 *   decode E-AC-3, and one codec keeps every rendition in one HLS audio group. Tracks of
 *   3–5 channels get the stereo downmix only (no common surround layout fits them).
 * - The default rendition is the stereo one of the source's first track flagged default
 *   (Matroska often flags every track: the first wins), else of the first track.
 * - Labels (HLS NAME, DASH Label) are unique inside the group: the track's title, else the
 *   language's English name, else "Audio N"; duplicates get " (2)", " (3)", ….
 */
import type { AudioRenditionInfo, AudioTrack } from './types.js';

/** RFC 6381 codecs of every audio rendition (AAC-LC). */
export const AAC_CODECS = 'mp4a.40.2';

/** Surround layouts kept beside the stereo downmix, by output channel count. */
const SURROUND_LAYOUTS: Readonly<Record<number, string>> = { 6: '5.1', 8: '7.1' };

const languageNames = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'none' });

/** A BCP 47 / ISO 639 tag safe to put in a playlist attribute and ffmpeg's var_stream_map; "und" otherwise. */
export function normaliseLanguage(tag: string | undefined): string {
  const value = (tag ?? '').trim();
  return /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(value) ? value.toLowerCase() : 'und';
}

function languageName(language: string): string | null {
  if (language === 'und') return null;
  try {
    return languageNames.of(language) ?? null;
  } catch {
    return null;
  }
}

/** Output channels of the surround companion of a track with `channels` (null: stereo only). */
export function surroundChannels(channels: number): 6 | 8 | null {
  if (channels >= 8) return 8;
  if (channels >= 6) return 6;
  return null;
}

/** The channel layout name ffmpeg's aformat takes for an output channel count. */
export function channelLayout(channels: number): string {
  return SURROUND_LAYOUTS[channels] ?? 'stereo';
}

/** The tracks that become renditions: the first `maxTracks` of the source. */
export function keptTracks(tracks: readonly AudioTrack[], maxTracks: number): AudioTrack[] {
  return tracks.slice(0, Math.max(0, maxTracks));
}

/** The audio renditions of a source, in master order (each track's stereo, then its surround). */
export function planAudioRenditions(tracks: readonly AudioTrack[], audioKbps: number, maxTracks: number): AudioRenditionInfo[] {
  const kept = keptTracks(tracks, maxTracks);
  const defaultTrack = (kept.find((t) => t.default) ?? kept[0])?.track;
  const used = new Map<string, number>();
  const unique = (label: string): string => {
    const n = (used.get(label) ?? 0) + 1;
    used.set(label, n);
    return n === 1 ? label : `${label} (${n})`;
  };
  return kept.flatMap((t, i) => {
    const language = normaliseLanguage(t.language);
    const base = t.title?.trim() || languageName(language) || `Audio ${i + 1}`;
    const isDefault = t.track === defaultTrack;
    const stereo: AudioRenditionInfo = {
      name: `audio-${t.track}`,
      track: t.track,
      language,
      label: unique(base),
      channels: 2,
      default: isDefault,
      codecs: AAC_CODECS,
      bitrate_kbps: audioKbps,
    };
    const surround = surroundChannels(t.channels);
    if (!surround) return [stereo];
    return [
      stereo,
      {
        ...stereo,
        name: `audio-${t.track}-surround`,
        label: unique(`${base} ${channelLayout(surround)}`),
        channels: surround,
        // Same quality per channel pair as the stereo rendition.
        bitrate_kbps: Math.round((audioKbps * surround) / 2),
      },
    ];
  });
}
