/*
 * master.mpd over the SAME fMP4 files as the HLS playlists: a static MPD in the ISO BMFF live
 * profile, each Representation addressing its files with a SegmentTemplate
 * (`240p/seg-$Number%05d$.m4s`, startNumber 0, the init as `initialization`) and a
 * SegmentTimeline read from the segments' own tfdt and sample durations.
 *
 * Why not SegmentList: the on-demand and live profiles both forbid it, and dash.js, VLC and
 * GStreamer fetched the first segment again and again on such an MPD (FACTS.md).
 *
 * Audio: one AdaptationSet per (language, codecs), so stereo and surround AAC of one track
 * are bitrate alternatives while another language or codec is a separate track choice; the
 * source's default track is Role "main", the others "alternate".
 */
import { languageTag } from './hls-master.js';

/** One segment on a Representation's timeline, in its timescale. */
export interface DashSegment {
  start: number;
  duration: number;
}

/** What every Representation has: where its files are and how its timeline goes. */
export interface DashRepresentation {
  /** Representation@id, also the rendition directory ("240p", "audio-0"). */
  id: string;
  /** Init segment URI relative to the MPD ("240p/init_240p.mp4"). */
  initialization: string;
  /** Media URI template relative to the MPD ("240p/seg-$Number%05d$.m4s"). */
  media: string;
  startNumber: number;
  timescale: number;
  segments: DashSegment[];
  /** Peak bits per second of its segments. */
  bandwidth: number;
  codecs: string;
}

export interface DashVideoRepresentation extends DashRepresentation {
  width: number;
  height: number;
}

export interface DashAudioRepresentation extends DashRepresentation {
  /** ISO 639 code of the source track ("eng", "und"). */
  language: string;
  label: string;
  channels: number;
  default: boolean;
  sampleRate: number;
}

export interface DashManifestInput {
  duration_ms: number;
  /** Frame rate as an MPD frameRate ("30", "30000/1001"). */
  frameRate: string;
  segmentSeconds: number;
  video: DashVideoRepresentation[];
  audio: DashAudioRepresentation[];
}

/**
 * The SegmentTemplate media pattern for consecutive segment names (`seg-00000.m4s` …):
 * `{ media: "seg-$Number%05d$.m4s", startNumber: 0 }`; null when the names do not follow one
 * zero-padded counter (the MPD could not address them by number).
 */
export function numberTemplate(uris: readonly string[]): { media: string; startNumber: number } | null {
  const first = /^(.*?)(\d+)(\.[A-Za-z0-9]+)$/.exec(uris[0] ?? '');
  if (!first) return null;
  const [, prefix = '', digits = '', suffix = ''] = first;
  const startNumber = Number(digits);
  const name = (n: number): string => `${prefix}${String(n).padStart(digits.length, '0')}${suffix}`;
  if (!uris.every((uri, i) => uri === name(startNumber + i))) return null;
  return { media: `${prefix}$Number%0${digits.length}d$${suffix}`, startNumber };
}

function isoDuration(ms: number): string {
  return `PT${(ms / 1000).toFixed(3)}S`;
}

/** Text safe inside XML attributes and element content. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** <S> runs: a new run where a gap or overlap breaks continuity, r for repeats. */
function timeline(segments: readonly DashSegment[]): string {
  const runs: { t?: number; d: number; r: number }[] = [];
  let next: number | null = null;
  for (const seg of segments) {
    const last = runs[runs.length - 1];
    if (last && last.d === seg.duration && seg.start === next) last.r++;
    else runs.push({ ...(seg.start === next ? {} : { t: seg.start }), d: seg.duration, r: 0 });
    next = seg.start + seg.duration;
  }
  return runs.map((run) => `<S${run.t !== undefined ? ` t="${run.t}"` : ''} d="${run.d}"${run.r ? ` r="${run.r}"` : ''}/>`).join('');
}

function representation(rep: DashRepresentation, attrs: string, inner: string[] = []): string[] {
  // A clip keeps its parent's timeline: its first segment starts later than 0, which is
  // where the Period must begin.
  const offset = rep.segments[0]?.start ?? 0;
  const template =
    `<SegmentTemplate timescale="${rep.timescale}" initialization="${escapeXml(rep.initialization)}" ` +
    `media="${escapeXml(rep.media)}" startNumber="${rep.startNumber}"${offset > 0 ? ` presentationTimeOffset="${offset}"` : ''}>`;
  return [
    `      <Representation id="${escapeXml(rep.id)}" bandwidth="${Math.ceil(rep.bandwidth)}" codecs="${escapeXml(rep.codecs)}"${attrs}>`,
    ...inner.map((l) => `        ${l}`),
    `        ${template}`,
    `          <SegmentTimeline>${timeline(rep.segments)}</SegmentTimeline>`,
    '        </SegmentTemplate>',
    '      </Representation>',
  ];
}

function audioAdaptationSets(audio: readonly DashAudioRepresentation[], firstId: number): string[] {
  const sets = new Map<string, DashAudioRepresentation[]>();
  for (const a of audio) {
    const key = `${languageTag(a.language)}/${a.codecs}`;
    sets.set(key, [...(sets.get(key) ?? []), a]);
  }
  const out: string[] = [];
  let id = firstId;
  for (const reps of sets.values()) {
    const head = reps[0]!;
    const isDefault = reps.some((r) => r.default);
    out.push(
      `    <AdaptationSet id="${id++}" contentType="audio" mimeType="audio/mp4" lang="${escapeXml(languageTag(head.language))}" segmentAlignment="true" startWithSAP="1">`,
      // Schema order: Label (RepresentationBase) before Role (AdaptationSet).
      `      <Label>${escapeXml(head.label || head.id)}</Label>`,
      `      <Role schemeIdUri="urn:mpeg:dash:role:2011" value="${isDefault ? 'main' : 'alternate'}"/>`,
    );
    for (const a of [...reps].sort((x, y) => x.bandwidth - y.bandwidth)) {
      const channels = `<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="${a.channels}"/>`;
      out.push(...representation(a, ` audioSamplingRate="${a.sampleRate}"`, [channels]));
    }
    out.push('    </AdaptationSet>');
  }
  return out;
}

/** The MPD text. */
export function buildDashManifest(input: DashManifestInput): string {
  const parts = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011"',
    `     type="static" mediaPresentationDuration="${isoDuration(input.duration_ms)}" minBufferTime="PT${input.segmentSeconds}S">`,
    `  <Period id="0" start="PT0S">`,
  ];
  if (input.video.length) {
    const video = [...input.video].sort((a, b) => a.bandwidth - b.bandwidth);
    const maxWidth = Math.max(...video.map((v) => v.width));
    const maxHeight = Math.max(...video.map((v) => v.height));
    parts.push(
      `    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1" ` +
        `maxWidth="${maxWidth}" maxHeight="${maxHeight}" frameRate="${input.frameRate}">`,
      ...video.flatMap((v) => representation(v, ` width="${v.width}" height="${v.height}" frameRate="${input.frameRate}" sar="1:1"`)),
      '    </AdaptationSet>',
    );
  }
  parts.push(...audioAdaptationSets(input.audio, 1), '  </Period>', '</MPD>', '');
  return parts.join('\n');
}
