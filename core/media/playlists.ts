/*
 * Pure helpers over the HLS playlists ffmpeg writes. ffmpeg writes EVENT playlists while it
 * encodes (so a video plays seconds after upload); the job handler serves them with
 * growingPlaylist() meanwhile and stores vodPlaylist() versions once the pass is done.
 * The master playlist is not ffmpeg's: hls-master.ts writes it.
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

/**
 * A finished (VOD) fMP4 media playlist over `segments`, as ffmpeg writes one: for a chunked
 * transcode, whose parts' own playlists each cover one chunk.
 */
export function buildVodPlaylist(initUri: string, segments: readonly PlaylistSegment[], firstSequence = 0): string {
  const target = Math.max(1, ...segments.map((s) => Math.round(s.duration)));
  return [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${target}`,
    `#EXT-X-MEDIA-SEQUENCE:${firstSequence}`,
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-MAP:URI="${initUri}"`,
    ...segments.flatMap((s) => [`#EXTINF:${s.duration.toFixed(6)},`, s.uri]),
    '#EXT-X-ENDLIST',
    '',
  ].join('\n');
}
