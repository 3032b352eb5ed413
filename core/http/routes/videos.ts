/** /v1/videos: create, read, list, patch, delete, reprocess, manifest (API.md "Videos"). */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { chaptersSchema } from '../../captions/chapters.js';
import { publishTextTracks, servedManifest } from '../../captions/text-track-publisher.js';
import type { MediaManifest } from '../../media/types.js';
import { type VideoView } from '../../catalog/videos.js';
import { AppError } from '../../errors.js';
import { PRIORITY_CLASS_NAMES, PRIORITY_CLASSES } from '../../jobs/priority.js';
import { watermarkOverride, type WatermarkOverride } from '../../media/watermark.js';
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
  /** The video's job priority class (core/jobs/priority.ts); above normal needs an admin token. */
  priority: z.enum(PRIORITY_CLASS_NAMES).optional(),
  /** `false`: no watermark on this video; a placement overrides `transcode.watermark`'s. */
  watermark: watermarkOverride.optional(),
});

const patchBody = z
  .object({
    title: z.string().trim().min(1).max(500).optional(),
    description: z.string().max(10_000).optional(),
    tags: tags.optional(),
    visibility: visibility.optional(),
    chapters: chaptersSchema.optional(),
    watermark: watermarkOverride.optional(),
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

/** A signed playback token presented for one video (`?token=`, as on its media URLs), and by whom. */
export interface PresentedToken {
  token: string | undefined;
  ip: string;
}

/**
 * The video, when the caller may see it; else 404 E_NOT_FOUND (private videos are invisible,
 * not forbidden, to callers who may not see them). A valid playback token for the video shows
 * a private one: that is how a signed embed URL (/embed/:id?token=) reads its video.
 */
export async function loadVisibleVideo(s: Services, id: string, p: Principal, presented?: PresentedToken): Promise<VideoRow> {
  if (!isId(id)) throw new AppError('E_NOT_FOUND', `video ${id} not found`);
  const row = await s.catalog.find(id);
  const signed = () => presented?.token !== undefined && playbackSigner(s).verify(id, presented.token, { ip: presented.ip });
  if (!row || !(canSee(p, row) || signed())) throw new AppError('E_NOT_FOUND', `video ${id} not found`);
  return row;
}

/** The video `id` when `p` may change it (upload scope, and its owner or an admin). */
export async function loadManagedVideo(s: Services, id: string, p: Principal): Promise<VideoRow> {
  requireScope(p, 'upload');
  const row = await loadVisibleVideo(s, id, p);
  if (!canManage(p, row.owner)) throw new AppError('E_FORBIDDEN', 'this token may not change this video');
  return row;
}

/** Loads a video for a caller: one the caller may see (or holds a playback token for), or one the caller may change. */
export function videoLoaders(s: Services): {
  loadVisible(id: string, p: Principal, presented?: PresentedToken): Promise<VideoRow>;
  loadManaged(id: string, p: Principal): Promise<VideoRow>;
} {
  return { loadVisible: (id, p, presented) => loadVisibleVideo(s, id, p, presented), loadManaged: (id, p) => loadManagedVideo(s, id, p) };
}

/**
 * A video's watermark override as stored: a placement needs a configured image to place (the
 * image is never the client's: no path is taken from a request).
 */
function storableWatermark(s: Services, override: WatermarkOverride | undefined): string | null | undefined {
  if (override === undefined) return undefined;
  if (override !== null && override !== false && s.config.transcode.watermark.image === '') {
    throw new AppError('E_BAD_REQUEST', 'watermark: this server has no watermark configured (transcode.watermark.image); only false or null are accepted');
  }
  return override === null ? null : JSON.stringify(override);
}

export function videoRoutes(router: Router<AppState>, s: Services): void {
  const { loadVisible, loadManaged } = videoLoaders(s);
  const view = videoViewer(s);

  router.post('/v1/videos', async (ctx) => {
    requireScope(ctx.state.principal, 'upload');
    const body = createBody.parse(await readJson(ctx));
    if (body.priority && PRIORITY_CLASSES[body.priority] > PRIORITY_CLASSES.normal && !hasScope(ctx.state.principal, 'admin')) {
      throw new AppError('E_FORBIDDEN', `priority "${body.priority}" needs an admin token`);
    }
    const row = await s.catalog.create({ ...body, watermark: storableWatermark(s, body.watermark), owner: ownerOf(ctx.state.principal) });
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
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : undefined;
    ctx.body = await view(await loadVisible(ctx.params.id!, ctx.state.principal, { token, ip: ctx.ip }), ctx.ip);
  });

  router.get('/v1/videos/:id/manifest', async (ctx) => {
    const row = await loadVisible(ctx.params.id!, ctx.state.principal);
    const version = row.current_version > 0 ? await s.catalog.version(row.id, row.current_version) : undefined;
    if (!version?.manifest) throw new AppError('E_NOT_FOUND', `video ${row.id} has no ready version yet`);
    ctx.body = servedManifest(s, row, JSON.parse(version.manifest) as MediaManifest);
  });

  router.patch('/v1/videos/:id', async (ctx) => {
    const row = await loadManaged(ctx.params.id!, ctx.state.principal);
    const body = patchBody.parse(await readJson(ctx));
    if (body.watermark !== undefined && row.clip_of !== null) {
      throw new AppError('E_CONFLICT', "a clip is never encoded: it carries the watermark of the video it was cut from");
    }
    const updated = await patchVideo(s, row, { ...body, watermark: storableWatermark(s, body.watermark) });
    // New chapters mean a new chapters track and master revision.
    if (body.chapters !== undefined) await publishTextTracks(s, row.id);
    ctx.body = await view(body.chapters !== undefined ? await s.catalog.get(row.id) : updated, ctx.ip);
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

