/**
 * Signed playback for standard players: the token on a private video's master playlist is
 * copied onto every child URI of the text it references (variant and media playlists, init
 * and media segments, sprite sheets in storyboard.vtt, DASH segment URLs), so hls.js,
 * Safari and ffprobe follow the chain without knowing about tokens. Stored files stay
 * token-free; this runs per request over the cached text.
 *
 * Only relative URIs are rewritten: an absolute URL or a protocol-relative one points
 * elsewhere and must not receive the token.
 */

/** Text formats whose child URIs are rewritten, by file extension. */
export type RewritableFormat = 'm3u8' | 'mpd' | 'vtt';

export function rewritableFormat(file: string): RewritableFormat | undefined {
  const ext = file.slice(file.lastIndexOf('.') + 1);
  return ext === 'm3u8' || ext === 'mpd' || ext === 'vtt' ? ext : undefined;
}

const HAS_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** Adds `token=` to a relative URI, before any #fragment; leaves others unchanged. */
export function withToken(uri: string, token: string, ampersand = '&'): string {
  if (uri === '' || HAS_SCHEME.test(uri) || uri.startsWith('//') || uri.startsWith('#')) return uri;
  const hash = uri.indexOf('#');
  const path = hash < 0 ? uri : uri.slice(0, hash);
  const fragment = hash < 0 ? '' : uri.slice(hash);
  if (/[?&]token=/.test(path)) return uri;
  return `${path}${path.includes('?') ? ampersand : '?'}token=${token}${fragment}`;
}

function rewriteHls(text: string, token: string): string {
  return text
    .split('\n')
    .map((line) => {
      if (line.startsWith('#')) {
        // Tags that reference resources carry them in a quoted URI attribute
        // (EXT-X-MAP, EXT-X-MEDIA, EXT-X-I-FRAME-STREAM-INF, EXT-X-PART, EXT-X-PRELOAD-HINT, …).
        return line.includes('URI="') ? line.replace(/URI="([^"]*)"/g, (_m, uri: string) => `URI="${withToken(uri, token)}"`) : line;
      }
      const trimmed = line.trim();
      return trimmed === '' ? line : line.replace(trimmed, () => withToken(trimmed, token));
    })
    .join('\n');
}

function rewriteDash(text: string, token: string): string {
  return text
    .replace(/\b(media|initialization|sourceURL|href)="([^"]*)"/g, (_m, attr: string, uri: string) => `${attr}="${withToken(uri, token, '&amp;')}"`)
    .replace(/<BaseURL>([^<]*)<\/BaseURL>/g, (_m, uri: string) => `<BaseURL>${withToken(uri, token, '&amp;')}</BaseURL>`);
}

/** Cue payload lines naming an image (storyboard sprites: `sprite-0.jpg#xywh=…`). */
const VTT_IMAGE_CUE = /^[A-Za-z0-9_./-]+\.(?:jpe?g|png|webp)(?:#\S*)?$/;

function rewriteVtt(text: string, token: string): string {
  return text
    .split('\n')
    .map((line) => {
      const trimmed = line.trim();
      return VTT_IMAGE_CUE.test(trimmed) ? line.replace(trimmed, () => withToken(trimmed, token)) : line;
    })
    .join('\n');
}

const rewriters: { [f in RewritableFormat]: (text: string, token: string) => string } = {
  m3u8: rewriteHls,
  mpd: rewriteDash,
  vtt: rewriteVtt,
};

/** The text with `token` on every relative child URI. */
export function rewriteChildUris(format: RewritableFormat, text: string, token: string): string {
  return rewriters[format](text, token);
}
