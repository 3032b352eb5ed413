/*
 * Pure helpers over the HLS playlists ffmpeg writes. ffmpeg writes EVENT playlists while it
 * encodes (so a video plays seconds after upload); the job handler serves them with
 * growingPlaylist() meanwhile and stores vodPlaylist() versions once the pass is done.
 */

/** One media segment of a media playlist. */
export interface PlaylistSegment {
  uri: string;
  /** Seconds (EXTINF). */
  duration: number;
}

export interface MediaPlaylist {
  segments: PlaylistSegment[];
  /** EXT-X-MAP URI (the fMP4 init segment). */
  initUri?: string;
  /** True when the playlist has EXT-X-ENDLIST. */
  ended: boolean;
}

/** A variant (EXT-X-STREAM-INF) of a master playlist. */
export interface MasterVariant {
  uri: string;
  bandwidth: number;
  width?: number;
  height?: number;
  codecs?: string;
  audioGroup?: string;
}

/** An alternative rendition (EXT-X-MEDIA), e.g. the shared audio. */
export interface MasterMedia {
  type: string;
  groupId: string;
  name: string;
  uri?: string;
}

export interface MasterPlaylist {
  variants: MasterVariant[];
  media: MasterMedia[];
}

/** Parses an attribute list (`A=1,B="x,y"`). */
export function parseAttributes(list: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
  for (const m of list.matchAll(re)) {
    const [, key, value] = m;
    if (key && value !== undefined) attrs[key] = value.startsWith('"') ? value.slice(1, -1) : value;
  }
  return attrs;
}

function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim());
}

export function parseMediaPlaylist(text: string): MediaPlaylist {
  const result: MediaPlaylist = { segments: [], ended: false };
  let pending: number | null = null;
  for (const line of lines(text)) {
    if (line.startsWith('#EXTINF:')) {
      pending = Number.parseFloat(line.slice('#EXTINF:'.length));
    } else if (line.startsWith('#EXT-X-MAP:')) {
      const uri = parseAttributes(line.slice('#EXT-X-MAP:'.length)).URI;
      if (uri) result.initUri = uri;
    } else if (line === '#EXT-X-ENDLIST') {
      result.ended = true;
    } else if (line && !line.startsWith('#') && pending !== null) {
      result.segments.push({ uri: line, duration: pending });
      pending = null;
    }
  }
  return result;
}

export function parseMasterPlaylist(text: string): MasterPlaylist {
  const result: MasterPlaylist = { variants: [], media: [] };
  let pending: Record<string, string> | null = null;
  for (const line of lines(text)) {
    if (line.startsWith('#EXT-X-STREAM-INF:')) {
      pending = parseAttributes(line.slice('#EXT-X-STREAM-INF:'.length));
    } else if (line.startsWith('#EXT-X-MEDIA:')) {
      const a = parseAttributes(line.slice('#EXT-X-MEDIA:'.length));
      result.media.push({ type: a.TYPE ?? '', groupId: a['GROUP-ID'] ?? '', name: a.NAME ?? '', ...(a.URI ? { uri: a.URI } : {}) });
    } else if (line && !line.startsWith('#') && pending) {
      const [w, h] = (pending.RESOLUTION ?? '').split('x').map(Number);
      result.variants.push({
        uri: line,
        bandwidth: Number(pending.BANDWIDTH ?? 0),
        ...(w && h ? { width: w, height: h } : {}),
        ...(pending.CODECS ? { codecs: pending.CODECS } : {}),
        ...(pending.AUDIO ? { audioGroup: pending.AUDIO } : {}),
      });
      pending = null;
    }
  }
  return result;
}

/** Every URI a master playlist references (variants, then alternative media). */
export function masterUris(master: MasterPlaylist): string[] {
  return [...master.variants.map((v) => v.uri), ...master.media.flatMap((m) => (m.uri ? [m.uri] : []))];
}

/**
 * Drops the audio-only EXT-X-STREAM-INF that ffmpeg's hls muxer adds for an audio group
 * (a player could pick it and show no picture) when video variants exist. Without video
 * (an audio-only source) ffmpeg writes one variant per audio rendition: only the default
 * one stays, so a player does not switch languages as if they were bitrates.
 */
export function withoutAudioOnlyVariants(text: string): string {
  const out: string[] = [];
  const src = text.split('\n');
  const hasVideo = src.some((l) => l.startsWith('#EXT-X-STREAM-INF:') && l.includes('RESOLUTION='));
  const defaultAudio = src
    .filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO') && l.includes('DEFAULT=YES'))
    .map((l) => parseAttributes(l.slice('#EXT-X-MEDIA:'.length)).URI)[0];
  const keepsAudioOnly = (uri: string | undefined): boolean => !hasVideo && (!defaultAudio || uri === defaultAudio);
  for (let i = 0; i < src.length; i++) {
    const line = src[i] ?? '';
    if (line.startsWith('#EXT-X-STREAM-INF:') && !line.includes('RESOLUTION=') && !keepsAudioOnly(src[i + 1])) {
      i++; // its URI line
      continue;
    }
    out.push(line);
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}

function withTag(text: string, tag: string, after: RegExp): string {
  const src = text.split('\n');
  const at = src.findIndex((l) => after.test(l.trim()));
  src.splice(at < 0 ? 1 : at + 1, 0, tag);
  return src.join('\n');
}

/**
 * A still-growing EVENT playlist for players: with `#EXT-X-START:TIME-OFFSET=0`, hls.js
 * starts at the beginning instead of near the live edge.
 */
export function growingPlaylist(text: string): string {
  if (/^#EXT-X-START:/m.test(text)) return text;
  return withTag(text, '#EXT-X-START:TIME-OFFSET=0', /^#EXTM3U$/);
}

/** The finished playlist: PLAYLIST-TYPE VOD, no START override, ENDLIST present. */
export function vodPlaylist(text: string): string {
  let out = text.replace(/^#EXT-X-START:.*\r?\n/gm, '');
  out = /^#EXT-X-PLAYLIST-TYPE:/m.test(out)
    ? out.replace(/^#EXT-X-PLAYLIST-TYPE:.*$/m, '#EXT-X-PLAYLIST-TYPE:VOD')
    : withTag(out, '#EXT-X-PLAYLIST-TYPE:VOD', /^#EXT-X-TARGETDURATION:/);
  if (!/^#EXT-X-ENDLIST\s*$/m.test(out)) out = out.replace(/\s*$/, '\n#EXT-X-ENDLIST\n');
  return out;
}

/** What the master says about one audio rendition (a subset of AudioRenditionInfo). */
export interface MasterAudio {
  name: string;
  language: string;
  label: string;
  channels: number;
  default: boolean;
}

function quoted(value: string): string {
  // Playlist attribute strings cannot hold a double quote or a line break.
  return `"${value.replace(/["\r\n]/g, "'")}"`;
}

/**
 * Replaces ffmpeg's audio EXT-X-MEDIA lines (NAME "audio_N", no CHANNELS) with one per
 * rendition: NAME from the track's label, LANGUAGE, CHANNELS, AUTOSELECT, and DEFAULT=YES on
 * the stereo rendition of the default track only (one DEFAULT per group). Without video, the
 * master keeps one variant, the default rendition, carrying the whole audio group: hls.js
 * then plays it and offers every language as an audio track.
 */
export function withAudioRenditions(text: string, audio: readonly MasterAudio[], mediaPlaylist: string): string {
  if (audio.length === 0) return text;
  const src = text.split('\n');
  const firstMedia = src.findIndex((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'));
  const group = parseAttributes(src[firstMedia]?.slice('#EXT-X-MEDIA:'.length) ?? '')['GROUP-ID'] ?? 'group_aud';
  const uriOf = (a: MasterAudio): string => `${a.name}/${mediaPlaylist}`;
  const media = audio.map((a) =>
    [
      '#EXT-X-MEDIA:TYPE=AUDIO',
      `GROUP-ID=${quoted(group)}`,
      `NAME=${quoted(a.label)}`,
      `LANGUAGE=${quoted(a.language)}`,
      `DEFAULT=${a.default && a.channels === 2 ? 'YES' : 'NO'}`,
      'AUTOSELECT=YES',
      `CHANNELS=${quoted(String(a.channels))}`,
      `URI=${quoted(uriOf(a))}`,
    ].join(','),
  );
  const audioOnly = !src.some((l) => l.startsWith('#EXT-X-STREAM-INF:') && l.includes('RESOLUTION='));
  const main = audio.find((a) => a.default && a.channels === 2) ?? audio[0];
  const out: string[] = [];
  for (let i = 0; i < src.length; i++) {
    const line = src[i] ?? '';
    if (line.startsWith('#EXT-X-MEDIA:TYPE=AUDIO')) {
      if (i === firstMedia) out.push(...media);
      continue;
    }
    if (audioOnly && line.startsWith('#EXT-X-STREAM-INF:') && main && src[i + 1] !== uriOf(main)) {
      i++; // its URI line: only the default rendition stays a variant
      continue;
    }
    out.push(line);
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}
