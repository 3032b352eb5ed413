/**
 * Security headers. Every response (Koa's, tus's and the media fast path's) carries
 * `X-Content-Type-Options: nosniff` and a Referrer-Policy; HTML pages also carry a
 * Content-Security-Policy and, unless they are meant to be framed, a frame ban.
 *
 * The policy fits the pages as built: scripts and styles come from /assets only (no inline
 * code), hls.js plays through MediaSource (`blob:` media) and starts its transmuxer in a
 * `blob:` worker, posters and storyboards are images from the origin. With
 * `origin.mode: redirect` on S3 storage the player follows redirects to the bucket's host,
 * which is then allowed for media, images and fetches.
 */
import type { ServerResponse } from 'node:http';
import type { Middleware } from 'koa';
import type { Config } from '../../config/schema.js';

/** Headers on every response, whoever serves it. */
export const BASE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'strict-origin-when-cross-origin',
};

/** Sets the base headers on a raw response (paths served beside Koa); writeHead keeps them. */
export function setBaseSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of Object.entries(BASE_SECURITY_HEADERS)) res.setHeader(name, value);
}

/** Where media may come from besides this origin: the bucket's host when players are redirected there. */
export function externalMediaSources(config: Pick<Config, 'origin' | 'storage'>): string[] {
  if (config.origin.mode !== 'redirect' || !config.storage.url.startsWith('s3://')) return [];
  const u = new URL(config.storage.url);
  const ssl = !['false', '0', 'no'].includes((u.searchParams.get('ssl') ?? 'true').toLowerCase());
  const host = `${u.hostname}${u.port ? `:${u.port}` : ''}`;
  const scheme = ssl ? 'https' : 'http';
  // Virtual-hosted buckets live on a subdomain of the endpoint.
  return [`${scheme}://${host}`, `${scheme}://*.${host}`];
}

export interface PagePolicyOptions {
  /** May other sites frame the page (the embed player)? */
  embeddable: boolean;
  /** Who may frame an embeddable page (CSP frame-ancestors sources; default `*`): see embedFrameAncestors. */
  frameAncestors?: readonly string[];
  /** Extra origins for media, images and fetches (see externalMediaSources). */
  mediaSources?: readonly string[];
}

/** The Content-Security-Policy of a page. */
export function contentSecurityPolicy(opts: PagePolicyOptions): string {
  const extra = opts.mediaSources?.length ? ` ${opts.mediaSources.join(' ')}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: blob:${extra}`,
    `media-src 'self' blob:${extra}`,
    `connect-src 'self'${extra}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    `frame-ancestors ${opts.embeddable ? (opts.frameAncestors ?? ['*']).join(' ') : "'none'"}`,
  ].join('; ');
}

/**
 * Who may frame an embed player: the configured `embed.allowed_origins` (`*`, or origins
 * besides this site's own) when the video may be embedded elsewhere; this site alone when not
 * (a private video without a signed URL: its owner's own pages still show it).
 */
export function embedFrameAncestors(allowedOrigins: readonly string[], embeddableElsewhere: boolean): string[] {
  if (!embeddableElsewhere) return ["'self'"];
  return allowedOrigins.includes('*') ? ['*'] : ["'self'", ...allowedOrigins];
}

/** The headers of a page: its policy, and a frame ban for browsers without frame-ancestors. */
export function pageSecurityHeaders(opts: PagePolicyOptions): Record<string, string> {
  const headers: Record<string, string> = { 'Content-Security-Policy': contentSecurityPolicy(opts) };
  if (!opts.embeddable) headers['X-Frame-Options'] = 'DENY';
  return headers;
}

/**
 * Koa middleware: base headers on every answer; on HTML answers that set no policy of their
 * own (an embeddable page sets its own), the non-embeddable page policy.
 */
export function securityHeadersMiddleware(mediaSources: readonly string[] = []): Middleware {
  const page = pageSecurityHeaders({ embeddable: false, mediaSources });
  return async (ctx, next) => {
    // Set before next(): error answers and 304s carry them too; set again after, since a
    // route that takes over the raw response (respond = false) has already written its own.
    ctx.set(BASE_SECURITY_HEADERS);
    await next();
    if (ctx.respond !== false && !ctx.headerSent) {
      ctx.set(BASE_SECURITY_HEADERS);
      if (ctx.response.is('html') && !ctx.response.get('Content-Security-Policy')) ctx.set(page);
    }
  };
}
