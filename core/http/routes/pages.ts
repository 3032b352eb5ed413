/**
 * The web pages (web/*.html) and their assets, served by the same process from memory.
 *
 * At start every asset (web/assets/* and the vendored players) is read once and the whole
 * set gets one content hash, its version. Pages refer to `/assets/<version>/<file>`, which
 * is cached for a year (`immutable`); the pages themselves are `no-cache` (revalidated by
 * ETag). One version for the whole set, not one per file, keeps relative ES-module imports
 * (`import './storyboard.js'`) inside the same version. Unversioned `/assets/<file>` and
 * `/assets/vendor/<file>` keep working with short caching. A request for another version
 * (an old page after a restart) gets the current file, but uncached, so no cache keeps
 * new bytes under an old name. Edits to web/ show after a restart.
 *
 * A page may hold slots, `{{name}}`, filled from server-side constants at start (the upload
 * picker's `accept` list comes from the demuxers the probe allows), so page and server
 * cannot disagree.
 *
 * The watch page and the embed player (/watch/:id, /embed/:id) are the same page, rendered
 * per video in one place, `<!-- video-head -->`: a video others may see gets its title and
 * its link-preview tags (OpenGraph, Twitter, oEmbed discovery: core/http/video-sharing.ts)
 * in the HTML itself, since link unfurlers run no script. The embed's frame-ancestors follow
 * `embed.allowed_origins`, and a private video's embed needs its signed URL (`?token=`) to be
 * framed by other sites. Rendered pages are kept per head (a small LRU).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';
import type { Router } from '@koa/router';
import { LRUCache } from 'lru-cache';
import { AppError } from '../../errors.js';
import { isId } from '../../ids.js';
import { uploadAccept } from '../../media/upload-formats.js';
import { playbackSigner } from '../../origin/signing.js';
import type { Services } from '../../services.js';
import type { AppContext, AppState } from '../context.js';
import { embedFrameAncestors, pageSecurityHeaders } from '../security-headers.js';
import { escapeHtml, PROVIDER_NAME, siteBase, watchHead } from '../video-sharing.js';

const require = createRequire(import.meta.url);
const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

const IMMUTABLE = 'public, max-age=31536000, immutable';
const UNVERSIONED_ASSET = 'public, max-age=300';
const UNVERSIONED_VENDOR = 'public, max-age=86400';
const PAGE = 'no-cache';

/** What a page's `{{slot}}`s are filled with (HTML-attribute safe text). */
type PageSlots = Readonly<Record<string, () => string>>;

/** The pages by URL: the file in web/, the nav link it marks as current, its slots. */
const PAGES: Record<'library' | 'watch' | 'upload', { file: string; nav: string; slots?: PageSlots }> = {
  library: { file: 'index.html', nav: '/' },
  watch: { file: 'watch.html', nav: '' },
  upload: { file: 'upload.html', nav: '/upload', slots: { 'upload-accept': uploadAccept } },
};
type PageName = keyof typeof PAGES;

/** Third-party player code served from node_modules, as `vendor/<name>`. */
const VENDOR: Record<string, string> = {
  'hls.min.js': 'hls.js/dist/hls.min.js',
  'tus.min.js': 'tus-js-client/dist/tus.min.js',
};

const CONTENT_TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  html: 'text/html; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
};
const COMPRESSIBLE = new Set(['js', 'css', 'html', 'svg']);
const ASSET_NAME = /^[a-z0-9-]+\.(js|css|svg|png|ico)$/;

/** One file held in memory, with its validator and (made on first use) compressed forms. */
class StaticFile {
  readonly etag: string;
  readonly type: string;
  private readonly compressible: boolean;
  private readonly compressed: Partial<Record<'br' | 'gzip', Promise<Buffer>>> = {};

  constructor(
    readonly body: Buffer,
    extension: string,
  ) {
    this.etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    this.type = CONTENT_TYPES[extension] ?? 'application/octet-stream';
    this.compressible = COMPRESSIBLE.has(extension) && body.length > 1024;
  }

  /** The encoding to send: brotli, then gzip, when the client takes it and it pays off. */
  encoding(accepts: (encoding: 'br' | 'gzip') => boolean): 'br' | 'gzip' | null {
    if (!this.compressible) return null;
    if (accepts('br')) return 'br';
    return accepts('gzip') ? 'gzip' : null;
  }

  encoded(encoding: 'br' | 'gzip'): Promise<Buffer> {
    this.compressed[encoding] ??=
      encoding === 'br'
        ? brotli(this.body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 9, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: this.body.length } })
        : gzipAsync(this.body, { level: 9 });
    return this.compressed[encoding];
  }
}

/** The web/ folder, from the source tree or from dist/. */
function webRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // core/http/routes → repo root is three levels up (four from dist/core/http/routes).
  return here.includes('/dist/') ? resolve(here, '../../../../web') : resolve(here, '../../../web');
}

function extensionOf(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

/** Every asset by its path under /assets/ (`watch.js`, `vendor/hls.min.js`). */
function loadAssets(root: string): Map<string, StaticFile> {
  const assets = new Map<string, StaticFile>();
  for (const name of readdirSync(join(root, 'assets')).sort()) {
    if (ASSET_NAME.test(name)) assets.set(name, new StaticFile(readFileSync(join(root, 'assets', name)), extensionOf(name)));
  }
  for (const [name, module] of Object.entries(VENDOR)) {
    let file: string;
    try {
      file = require.resolve(module);
    } catch {
      continue; // not installed (e.g. a production install without it): that asset is a 404
    }
    assets.set(`vendor/${name}`, new StaticFile(readFileSync(file), extensionOf(name)));
  }
  return assets;
}

/** One hash over every asset's name and bytes. */
function versionOf(assets: Map<string, StaticFile>): string {
  const hash = createHash('sha256');
  for (const [name, file] of assets) hash.update(`${name}\0${file.etag}\0`);
  return hash.digest('hex').slice(0, 12);
}

/**
 * A page as sent: the shared header (web/partials/header.html) in place of
 * `<!-- site-header -->` with the page's own nav link marked, and asset URLs versioned.
 */
function renderPage(root: string, page: PageName, version: string, embed: boolean): StaticFile {
  const { file, nav, slots = {} } = PAGES[page];
  const header = readFileSync(join(root, 'partials', 'header.html'), 'utf8')
    .trim()
    .replace(/<nav[\s\S]*<\/nav>/, (links) => (nav ? links.replace(`href="${nav}"`, `href="${nav}" aria-current="page"`) : links));
  let html = readFileSync(join(root, file), 'utf8')
    .replace('<!-- site-header -->', header)
    .replace(/(src|href)="\/assets\//g, `$1="/assets/${version}/`)
    .replace(/\{\{([a-z-]+)\}\}/g, (slot, name: string) => {
      const fill = slots[name];
      if (!fill) throw new Error(`web/${file}: no value for the slot ${slot}`);
      return fill();
    });
  // An embedded player (an iframe) is the player alone; the class is there before any paint.
  if (embed) html = html.replace('<html lang="en">', '<html lang="en" class="embed">');
  return new StaticFile(Buffer.from(html), 'html');
}

async function send(ctx: AppContext, file: StaticFile, cacheControl: string): Promise<void> {
  ctx.status = 200;
  ctx.type = file.type;
  ctx.set('Cache-Control', cacheControl);
  ctx.set('ETag', file.etag);
  ctx.vary('Accept-Encoding');
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  const encoding = file.encoding((e) => ctx.acceptsEncodings(e) === e);
  if (encoding) {
    ctx.set('Content-Encoding', encoding);
    ctx.body = await file.encoded(encoding);
  } else {
    ctx.body = file.body;
  }
}

/** Where a page's per-video head goes (web/watch.html). */
const VIDEO_HEAD = '<!-- video-head -->';
const DEFAULT_HEAD = `<title>${PROVIDER_NAME}</title>`;
/** Rendered watch/embed pages kept, by head (~10 KB each). */
const RENDERED_KEPT = 500;

/**
 * @param mediaSources origins the embed page's policy allows media from besides this one
 *   (the other pages get theirs from the security-headers middleware).
 */
export function pageRoutes(router: Router<AppState>, s: Services, mediaSources: readonly string[] = []): void {
  const root = webRoot();
  const assets = loadAssets(root);
  const version = versionOf(assets);
  const pages = new Map<string, StaticFile>();
  for (const name of Object.keys(PAGES) as PageName[]) pages.set(name, renderPage(root, name, version, false));
  const page = (name: string) => async (ctx: AppContext) => send(ctx, pages.get(name)!, PAGE);
  const watchTemplates = { watch: pages.get('watch')!.body.toString(), embed: renderPage(root, 'watch', version, true).body.toString() };
  const rendered = new LRUCache<string, StaticFile>({ max: RENDERED_KEPT });
  const videoPage = (kind: keyof typeof watchTemplates, head: string): StaticFile => {
    const key = `${kind}\0${head}`;
    let file = rendered.get(key);
    if (!file) {
      file = new StaticFile(Buffer.from(watchTemplates[kind].replace(VIDEO_HEAD, () => head)), 'html');
      rendered.set(key, file);
    }
    return file;
  };
  const signer = playbackSigner(s);

  router.get('/', page('library'));
  router.get('/upload', page('upload'));

  /** The video when others may see it (public, unlisted): its page then says what it is. */
  const shareable = async (id: string) => {
    const row = isId(id) ? await s.catalog.find(id) : undefined;
    return row && row.visibility !== 'private' ? { row, view: await s.catalog.view(row) } : { row, view: undefined };
  };

  const embed = async (ctx: AppContext) => {
    const id = ctx.params.id!;
    const { row, view } = await shareable(id);
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : undefined;
    // The embed player is made to be framed by other sites; a private video's only through its signed URL.
    const elsewhere = row !== undefined && (view !== undefined || signer.verify(row.id, token, { ip: ctx.ip }));
    ctx.set(pageSecurityHeaders({ embeddable: true, mediaSources, frameAncestors: embedFrameAncestors(s.config.embed.allowed_origins, elsewhere) }));
    const head = view ? `<title>${escapeHtml(view.title)} · ${PROVIDER_NAME}</title>\n  <meta name="robots" content="noindex">` : DEFAULT_HEAD;
    await send(ctx, videoPage('embed', head), PAGE);
  };
  router.get('/embed/:id', embed);
  router.get('/watch/:id', async (ctx) => {
    // The upload page's player frame (same site) predates /embed/:id.
    if (ctx.query.embed === '1') return embed(ctx);
    const { view } = await shareable(ctx.params.id!);
    await send(ctx, videoPage('watch', view ? watchHead(view, siteBase(s.config.public_url, ctx)) : DEFAULT_HEAD), PAGE);
  });
  router.get('/assets/{*path}', async (ctx) => {
    const parts = (ctx.params.path ?? '').split('/');
    const versioned = parts.length > 1 && /^[0-9a-f]{12}$/.test(parts[0]!);
    const name = (versioned ? parts.slice(1) : parts).join('/');
    const file = assets.get(name);
    if (!file) throw new AppError('E_NOT_FOUND', 'no such asset');
    const cache = !versioned
      ? name.startsWith('vendor/') ? UNVERSIONED_VENDOR : UNVERSIONED_ASSET
      : parts[0] === version ? IMMUTABLE : PAGE;
    await send(ctx, file, cache);
  });
}
