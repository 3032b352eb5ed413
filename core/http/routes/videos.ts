/** /v1/videos: create, read, list, patch, delete, reprocess, manifest (API.md "Videos"). */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { type VideoView } from '../../catalog/videos.js';
import { AppError } from '../../errors.js';
import { isId } from '../../ids.js';
import type { Services } from '../../services.js';
import { playbackSigner } from '../../origin/signing.js';
import { deleteVideo, patchVideo, reprocessVideo } from '../../catalog/video-operations.js';
import type { VideoRow, Visibility } from '../../storage/metadata-db.js';
import { canManage, hasScope, ownerOf, requireScope, type Principal } from '../auth.js';
import { readJson } from '../body.js';
import type { AppState } from '../context.js';

const visibility = z.enum(['public', 'unlisted', 'private']);
const tags = z.array(z.string().trim().min(1).max(64)).max(50);

const createBody = z.object({
  title: z.string().trim().min(1).max(500),
  description: z.string().max(10_000).optional(),
  tags: tags.optional(),
  visibility: visibility.optional(),
});

const patchBody = z
  .object({
    title: z.string().trim().min(1).max(500).optional(),
    description: z.string().max(10_000).optional(),
    tags: tags.optional(),
    visibility: visibility.optional(),
  })
  .strict();

const listQuery = z.object({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  owner: z.string().max(64).optional(),
  status: z.enum(['awaiting_upload', 'uploading', 'processing', 'ready', 'failed']).optional(),
});

/** May the caller see this video at all? Anonymous callers see public and unlisted ones. */
export function canSee(p: Principal, video: Pick<VideoRow, 'visibility' | 'owner'>): boolean {
  if (video.visibility !== 'private') return true;
  return hasScope(p, 'read') || canManage(p, video.owner);
}

/**
 * The public view of a video for a caller: private videos carry signed playback URLs (bound
 * to the caller's IP when signing.bind_ip is set).
 */
export function videoViewer(s: Services): (row: VideoRow, ip: string) => Promise<VideoView> {
  const signer = playbackSigner(s);
  return (row, ip) => s.catalog.view(row, row.visibility === 'private' ? (url) => signer.signUrl(row.id, url, { ip }) : undefined);
}

export function videoRoutes(router: Router<AppState>, s: Services): void {
  const loadVisible = async (id: string, p: Principal): Promise<VideoRow> => {
    if (!isId(id)) throw new AppError('E_NOT_FOUND', `video ${id} not found`);
    const row = await s.catalog.find(id);
    // Private videos are invisible, not forbidden, to callers who may not see them.
    if (!row || !canSee(p, row)) throw new AppError('E_NOT_FOUND', `video ${id} not found`);
    return row;
  };
  const loadManaged = async (id: string, p: Principal): Promise<VideoRow> => {
    requireScope(p, 'upload');
    const row = await loadVisible(id, p);
    if (!canManage(p, row.owner)) throw new AppError('E_FORBIDDEN', 'this token may not change this video');
    return row;
  };
  const view = videoViewer(s);

  router.post('/v1/videos', async (ctx) => {
    requireScope(ctx.state.principal, 'upload');
    const body = createBody.parse(await readJson(ctx));
    const row = await s.catalog.create({ ...body, owner: ownerOf(ctx.state.principal) });
    ctx.status = 201;
    ctx.body = { ...(await view(row, ctx.ip)), upload: { endpoint: '/v1/uploads', metadata: { video_id: row.id } } };
  });

  router.get('/v1/videos', async (ctx) => {
    const q = listQuery.parse(ctx.query);
    const p = ctx.state.principal;
    const privileged = hasScope(p, 'read');
    const page = await s.catalog.list({
      limit: q.limit,
      cursor: q.cursor,
      owner: q.owner,
      // Anonymous callers get ready public videos only (API.md "Auth").
      status: privileged ? q.status : 'ready',
      visibilities: privileged ? undefined : (['public'] satisfies Visibility[]),
    });
    ctx.body = { items: await Promise.all(page.items.map((row) => view(row, ctx.ip))), next_cursor: page.next_cursor };
  });

  router.get('/v1/videos/:id', async (ctx) => {
    ctx.body = await view(await loadVisible(ctx.params.id!, ctx.state.principal), ctx.ip);
  });

  router.get('/v1/videos/:id/manifest', async (ctx) => {
    const row = await loadVisible(ctx.params.id!, ctx.state.principal);
    const version = row.current_version > 0 ? await s.catalog.version(row.id, row.current_version) : undefined;
    if (!version?.manifest) throw new AppError('E_NOT_FOUND', `video ${row.id} has no ready version yet`);
    ctx.body = JSON.parse(version.manifest) as unknown;
  });

  router.patch('/v1/videos/:id', async (ctx) => {
    const row = await loadManaged(ctx.params.id!, ctx.state.principal);
    const body = patchBody.parse(await readJson(ctx));
    ctx.body = await view(await patchVideo(s, row, body), ctx.ip);
  });

  router.delete('/v1/videos/:id', async (ctx) => {
    await deleteVideo(s, await loadManaged(ctx.params.id!, ctx.state.principal));
    ctx.status = 204;
  });

  router.post('/v1/videos/:id/reprocess', async (ctx) => {
    const row = await loadManaged(ctx.params.id!, ctx.state.principal);
    await reprocessVideo(s, row);
    ctx.status = 202;
    ctx.body = await view(await s.catalog.get(row.id), ctx.ip);
  });
}

