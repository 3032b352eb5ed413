/** Content-Type per media file extension (API.md "Media"). Anything else is not served. */
export const MEDIA_TYPES = {
  m3u8: 'application/vnd.apple.mpegurl',
  mp4: 'video/mp4',
  m4s: 'video/iso.segment',
  vtt: 'text/vtt; charset=utf-8',
  jpg: 'image/jpeg',
  mpd: 'application/dash+xml',
  json: 'application/json; charset=utf-8',
} as const;

export type MediaExtension = keyof typeof MEDIA_TYPES;

export function mediaType(file: string): string | undefined {
  const ext = file.slice(file.lastIndexOf('.') + 1);
  return Object.hasOwn(MEDIA_TYPES, ext) ? MEDIA_TYPES[ext as MediaExtension] : undefined;
}

/** Playlists and manifests change while a version is still processing. */
export function isPlaylist(file: string): boolean {
  return file.endsWith('.m3u8') || file.endsWith('.mpd');
}

/** Text media sent compressed (br or gzip) when the client accepts it. */
export function isCompressible(file: string): boolean {
  return isPlaylist(file) || file.endsWith('.vtt');
}
