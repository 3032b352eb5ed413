/*
 * master.mpd over the SAME fMP4 files as the HLS playlists: a static MPD whose
 * Representations list their init and media segments (SegmentList + SegmentTimeline) in the
 * playlists' order, with durations in each track's own timescale (read from the init's mdhd).
 */
import type { MediaPlaylist } from './playlists.js';

/** One Representation: a rendition directory and its parsed media playlist. */
export interface DashRepresentation {
  id: string;
  /** Directory of the rendition relative to the MPD ("240p"). */
  dir: string;
  playlist: MediaPlaylist;
  timescale: number;
  bandwidth: number;
  codecs: string;
  width?: number;
  height?: number;
}

/** One audio rendition: its Representation and what its AdaptationSet says about it. */
export interface DashAudio extends DashRepresentation {
  language: string;
  label: string;
  channels: number;
  /** The default track's renditions get Role "main", the others "alternate". */
  default: boolean;
}

export interface DashManifestInput {
  duration_ms: number;
  /** Frame rate as an MPD frameRate ("30", "30000/1001"). */
  frameRate: string;
  segmentSeconds: number;
  /** Empty for an audio-only source (no video AdaptationSet). */
  video: DashRepresentation[];
  /** One AdaptationSet each, in order. */
  audio: DashAudio[];
}

/** The mdhd timescale of the first track in an fMP4 init segment; null if absent. */
export function readInitTimescale(init: Uint8Array): number | null {
  const view = new DataView(init.buffer, init.byteOffset, init.byteLength);
  for (let i = 4; i + 24 <= init.length; i++) {
    // 'mdhd' box type, then version(1) flags(3) and the creation/modification times.
    if (init[i] === 0x6d && init[i + 1] === 0x64 && init[i + 2] === 0x68 && init[i + 3] === 0x64) {
      const version = init[i + 4];
      const at = i + 4 + (version === 1 ? 20 : 12);
      return at + 4 <= init.length ? view.getUint32(at) : null;
    }
  }
  return null;
}

function isoDuration(ms: number): string {
  return `PT${(ms / 1000).toFixed(3)}S`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function timeline(rep: DashRepresentation): string {
  const runs: { d: number; r: number }[] = [];
  for (const seg of rep.playlist.segments) {
    const d = Math.round(seg.duration * rep.timescale);
    const last = runs[runs.length - 1];
    if (last && last.d === d) last.r++;
    else runs.push({ d, r: 0 });
  }
  return runs.map((run, i) => `<S ${i === 0 ? 't="0" ' : ''}d="${run.d}"${run.r ? ` r="${run.r}"` : ''}/>`).join('');
}

function representation(rep: DashRepresentation, extra: string, inner = ''): string {
  const url = (uri: string): string => escapeXml(`${rep.dir}/${uri}`);
  const init = rep.playlist.initUri ? `          <Initialization sourceURL="${url(rep.playlist.initUri)}"/>\n` : '';
  const segments = rep.playlist.segments.map((s) => `          <SegmentURL media="${url(s.uri)}"/>`).join('\n');
  return [
    `      <Representation id="${escapeXml(rep.id)}" bandwidth="${rep.bandwidth}" codecs="${escapeXml(rep.codecs)}"${extra}>`,
    inner,
    `        <SegmentList timescale="${rep.timescale}">`,
    `${init}          <SegmentTimeline>${timeline(rep)}</SegmentTimeline>`,
    segments,
    '        </SegmentList>',
    '      </Representation>',
  ]
    .filter((l) => l !== '')
    .join('\n');
}

function audioAdaptationSet(audio: DashAudio, id: number): string {
  const channels = `        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="${audio.channels}"/>`;
  return [
    `    <AdaptationSet id="${id}" contentType="audio" mimeType="audio/mp4" segmentAlignment="true" startWithSAP="1" lang="${escapeXml(audio.language)}">`,
    `      <Label>${escapeXml(audio.label)}</Label>`,
    `      <Role schemeIdUri="urn:mpeg:dash:role:2011" value="${audio.default ? 'main' : 'alternate'}"/>`,
    representation(audio, ' audioSamplingRate="48000"', channels),
    '    </AdaptationSet>',
  ].join('\n');
}

/** The MPD text. */
export function buildDashManifest(input: DashManifestInput): string {
  const video = input.video
    .map((r) => representation(r, ` width="${r.width ?? 0}" height="${r.height ?? 0}" frameRate="${input.frameRate}" sar="1:1"`))
    .join('\n');
  const parts = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011,urn:mpeg:dash:profile:isoff-live:2011"',
    `     type="static" mediaPresentationDuration="${isoDuration(input.duration_ms)}" minBufferTime="PT${input.segmentSeconds}S">`,
    `  <Period id="0" start="PT0S">`,
  ];
  if (input.video.length > 0) {
    parts.push(
      '    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">',
      video,
      '    </AdaptationSet>',
    );
  }
  input.audio.forEach((audio, i) => parts.push(audioAdaptationSet(audio, i + 1)));
  parts.push('  </Period>', '</MPD>', '');
  return parts.join('\n');
}
