/** The web pages (web/) and their static assets, served by the same process. */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Router } from '@koa/router';
import { AppError } from '../../errors.js';
import type { AppState } from '../context.js';

const require = createRequire(import.meta.url);

/** The web/ folder, from the source tree or from dist/. */
function webRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // core/http/routes → repo root is three levels up (four from dist/core/http/routes).
  const fromSource = resolve(here, '../../../web');
  const fromDist = resolve(here, '../../../../web');
  return here.includes(`${'/dist/'}`) ? fromDist : fromSource;
}

const ASSET_TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  html: 'text/html; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
};

const VENDOR: Record<string, string> = {
  'hls.min.js': 'hls.js/dist/hls.min.js',
  'tus.min.js': 'tus-js-client/dist/tus.min.js',
};

export function pageRoutes(router: Router<AppState>): void {
  const root = webRoot();
  const sendFile = async (ctx: { type: string; body: unknown; set(k: string, v: string): void }, file: string, cache: string) => {
    const ext = file.slice(file.lastIndexOf('.') + 1);
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch {
      throw new AppError('E_NOT_FOUND', 'no such page or asset');
    }
    ctx.type = ASSET_TYPES[ext] ?? 'application/octet-stream';
    ctx.set('Cache-Control', cache);
    ctx.body = data;
  };
  const page = (name: string) => async (ctx: Parameters<Parameters<typeof router.get>[1]>[0]) =>
    sendFile(ctx, join(root, name), 'no-cache');

  router.get('/watch/:id', page('watch.html'));
  router.get('/upload', page('upload.html'));
  router.get('/assets/vendor/:file', async (ctx) => {
    const mod = VENDOR[ctx.params.file ?? ''];
    if (!mod) throw new AppError('E_NOT_FOUND', 'no such asset');
    await sendFile(ctx, require.resolve(mod), 'public, max-age=86400');
  });
  router.get('/assets/:file', async (ctx) => {
    const file = ctx.params.file ?? '';
    if (!/^[a-z0-9-]+\.(js|css|svg|png|ico)$/.test(file)) throw new AppError('E_NOT_FOUND', 'no such asset');
    await sendFile(ctx, join(root, 'assets', file), 'public, max-age=300');
  });
}
