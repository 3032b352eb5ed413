/**
 * How a video shows outside Framecast: the tags a watch page carries for link previews
 * (OpenGraph, Twitter cards, the oEmbed discovery link), the oEmbed 1.0 answer (type `video`:
 * an iframe of the embed player) and the embed player's URL. Pure functions of a video's
 * view and the site's absolute base URL; every value written into HTML is escaped here.
 *
 * Sharing URLs must be absolute: they are `public_url` when it is set, else the origin the
 * request reached (its Host header), which is right behind a proxy that keeps the Host.
 */
import type { VideoView } from '../catalog/videos.js';

export const PROVIDER_NAME = 'Framecast';
/** Width of the embed a site gets when it asks for no size (oEmbed, og:video). */
export const DEFAULT_EMBED_WIDTH = 640;
/** Share previews cut the description here (OpenGraph consumers show ~200 characters). */
const DESCRIPTION_CHARS = 200;
/** Tags written as video:tag, at most. */
const MAX_TAG_TAGS = 10;

/** Text safe inside an HTML attribute value or element. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The origin a request reached (scheme and Host header). */
export function requestOrigin(request: { protocol: string; host: string }): string {
  return `${request.protocol}://${request.host}`;
}

/** The site's absolute base URL, without a trailing slash: public_url, else the request's origin. */
export function siteBase(publicUrl: string, request: { protocol: string; host: string }): string {
  return (publicUrl || requestOrigin(request)).replace(/\/+$/, '');
}

/** A URL the API gave (relative, or absolute under public_url) made absolute. */
function absolute(base: string, url: string): string {
  return new URL(url, `${base}/`).href;
}

export function watchUrl(base: string, id: string): string {
  return `${base}/watch/${encodeURIComponent(id)}`;
}

/** The embed player's URL; a private video's carries its signed playback token. */
export function embedUrl(base: string, id: string, token?: string): string {
  return `${base}/embed/${encodeURIComponent(id)}${token ? `?token=${encodeURIComponent(token)}` : ''}`;
}

/** A watch or embed URL of this site, taken apart (oEmbed's `url`); undefined for anything else. */
export function parseShareUrl(url: string, origins: readonly string[]): { id: string; token: string | undefined } | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (!origins.some((o) => new URL(o).origin === u.origin)) return undefined;
  const m = /^\/(?:watch|embed)\/([A-Za-z0-9_-]{1,64})\/?$/.exec(u.pathname);
  return m ? { id: m[1]!, token: u.searchParams.get('token') ?? undefined } : undefined;
}

/** The picture's size: the video's own, or 16:9 for audio and videos not probed yet. */
function pictureSize(video: Pick<VideoView, 'width' | 'height'>): { width: number; height: number } {
  return video.width && video.height ? { width: video.width, height: video.height } : { width: 16, height: 9 };
}

/** The embed's size: `DEFAULT_EMBED_WIDTH` wide at the video's shape, within the asked bounds. */
export function embedSize(video: Pick<VideoView, 'width' | 'height'>, max: { width?: number; height?: number } = {}): { width: number; height: number } {
  const picture = pictureSize(video);
  const ratio = picture.width / picture.height;
  // A portrait video is as tall as a landscape one is wide would be too tall: cap its height.
  let height = Math.round(Math.min(DEFAULT_EMBED_WIDTH / ratio, DEFAULT_EMBED_WIDTH));
  let width = Math.round(height * ratio);
  if (max.width && width > max.width) {
    width = max.width;
    height = Math.round(width / ratio);
  }
  if (max.height && height > max.height) {
    height = max.height;
    width = Math.round(height * ratio);
  }
  return { width: Math.max(1, width), height: Math.max(1, height) };
}

/** The poster and its size (the top rendition's: posters are written at that size), when there is one. */
function poster(video: VideoView, base: string): { url: string; width: number; height: number } | undefined {
  if (!video.playback.poster_url) return undefined;
  const top = [...video.renditions].sort((a, b) => b.width * b.height - a.width * a.height)[0];
  const size = top ?? (video.width && video.height ? { width: video.width, height: video.height } : undefined);
  return size ? { url: absolute(base, video.playback.poster_url), ...size } : undefined;
}

function shortDescription(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > DESCRIPTION_CHARS ? `${flat.slice(0, DESCRIPTION_CHARS - 1).trimEnd()}…` : flat;
}

/** The oEmbed 1.0 answer for a video (https://oembed.com, type "video"). */
export function oembedAnswer(
  video: VideoView,
  base: string,
  opts: { token?: string | undefined; maxWidth?: number | undefined; maxHeight?: number | undefined } = {},
): Record<string, string | number> {
  const { width, height } = embedSize(video, { width: opts.maxWidth, height: opts.maxHeight });
  const src = embedUrl(base, video.id, opts.token);
  const iframe =
    `<iframe src="${escapeHtml(src)}" width="${width}" height="${height}" title="${escapeHtml(video.title)}" ` +
    'style="border:0" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen ' +
    'sandbox="allow-same-origin allow-scripts allow-popups allow-popups-to-escape-sandbox"></iframe>';
  const answer: Record<string, string | number> = {
    version: '1.0',
    type: 'video',
    title: video.title,
    provider_name: PROVIDER_NAME,
    provider_url: `${base}/`,
    html: iframe,
    width,
    height,
  };
  const picture = poster(video, base);
  if (picture) Object.assign(answer, { thumbnail_url: picture.url, thumbnail_width: picture.width, thumbnail_height: picture.height });
  if (video.duration_ms) answer.duration = Math.round(video.duration_ms / 1000);
  return answer;
}

/**
 * The watch page's head for a video others may see: its title, description, canonical URL,
 * the oEmbed discovery link, OpenGraph and Twitter player-card tags. Unlisted videos ask
 * search engines not to index them (they are shared by link, not listed).
 */
export function watchHead(video: VideoView, base: string): string {
  const page = watchUrl(base, video.id);
  const player = embedUrl(base, video.id);
  const size = embedSize(video);
  const description = shortDescription(video.description);
  const picture = poster(video, base);
  const oembed = `${base}/oembed?url=${encodeURIComponent(page)}&format=json`;
  const tags: [string, string, string][] = [];
  const meta = (attr: 'name' | 'property', key: string, value: string | number) => tags.push([attr, key, String(value)]);
  if (description) meta('name', 'description', description);
  if (video.visibility !== 'public') meta('name', 'robots', 'noindex');
  meta('property', 'og:site_name', PROVIDER_NAME);
  meta('property', 'og:type', 'video.other');
  meta('property', 'og:title', video.title);
  if (description) meta('property', 'og:description', description);
  meta('property', 'og:url', page);
  if (picture) {
    meta('property', 'og:image', picture.url);
    meta('property', 'og:image:width', picture.width);
    meta('property', 'og:image:height', picture.height);
  }
  meta('property', 'og:video:url', player);
  if (player.startsWith('https:')) meta('property', 'og:video:secure_url', player);
  meta('property', 'og:video:type', 'text/html');
  meta('property', 'og:video:width', size.width);
  meta('property', 'og:video:height', size.height);
  if (video.duration_ms) meta('property', 'video:duration', Math.round(video.duration_ms / 1000));
  if (video.ready_at) meta('property', 'video:release_date', video.ready_at);
  for (const tag of video.tags.slice(0, MAX_TAG_TAGS)) meta('property', 'video:tag', tag);
  // A player card needs a picture; without a poster yet, a plain summary.
  meta('name', 'twitter:card', picture ? 'player' : 'summary');
  meta('name', 'twitter:title', video.title);
  if (description) meta('name', 'twitter:description', description);
  if (picture) {
    meta('name', 'twitter:image', picture.url);
    meta('name', 'twitter:player', player);
    meta('name', 'twitter:player:width', size.width);
    meta('name', 'twitter:player:height', size.height);
  }
  return [
    `<title>${escapeHtml(video.title)} · ${PROVIDER_NAME}</title>`,
    `<link rel="canonical" href="${escapeHtml(page)}">`,
    `<link rel="alternate" type="application/json+oembed" href="${escapeHtml(oembed)}" title="${escapeHtml(video.title)}">`,
    ...tags.map(([attr, key, value]) => `<meta ${attr}="${key}" content="${escapeHtml(value)}">`),
  ].join('\n  ');
}
