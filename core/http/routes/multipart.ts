/**
 * Direct-to-storage uploads (API.md "direct uploads"): /v1/videos/:id/multipart. The shapes
 * fit Uppy's @uppy/aws-s3 multipart callbacks (createMultipartUpload → upload_id + part URLs,
 * listParts → parts, completeMultipartUpload, abortMultipartUpload); see README "Direct uploads".
 */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { isId } from '../../ids.js';
import type { Services } from '../../services.js';
import { DirectUploads } from '../../uploads/direct-uploads.js';
import { requireScope } from '../auth.js';
import { readJson } from '../body.js';
import { videoViewer } from './videos.js';
import type { AppState } from '../context.js';

const createBody = z.object({
  filename: z.string().trim().min(1).max(500),
  size: z.number().int().min(1),
  content_type: z.string().trim().min(1).max(200).default('application/octet-stream'),
});

const completeBody = z.object({
  parts: z
    .array(z.object({ number: z.number().int().min(1).max(10_000), etag: z.string().min(1).max(200) }))
    .min(1)
    .max(10_000),
  /** Optional whole-file checksum, hex. */
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/).optional(),
});

export function multipartRoutes(router: Router<AppState>, s: Services): void {
  const uploads = new DirectUploads(s);
  const view = videoViewer(s);
  // Where node part URLs point when `public_url` is not set: this node as the client reached it.
  const self = (ctx: { protocol: string; host: string }) => `${ctx.protocol}://${ctx.host}`;
  const videoId = (id: string | undefined): string => {
    if (!id || !isId(id)) throw new AppError('E_NOT_FOUND', `video ${id} not found`);
    return id;
  };

  router.post('/v1/videos/:id/multipart', async (ctx) => {
    requireScope(ctx.state.principal, 'upload'); // before the body: an anonymous caller learns nothing
    const body = createBody.parse(await readJson(ctx));
    ctx.status = 201;
    ctx.body = await uploads.create(ctx.state.principal, videoId(ctx.params.id), { filename: body.filename, size: body.size, contentType: body.content_type }, self(ctx));
  });

  router.get('/v1/videos/:id/multipart/:upload_id', async (ctx) => {
    ctx.body = await uploads.state(ctx.state.principal, videoId(ctx.params.id), ctx.params.upload_id!, self(ctx));
  });

  router.post('/v1/videos/:id/multipart/:upload_id/complete', async (ctx) => {
    requireScope(ctx.state.principal, 'upload');
    const body = completeBody.parse(await readJson(ctx));
    const id = videoId(ctx.params.id);
    await uploads.complete(ctx.state.principal, id, ctx.params.upload_id!, body.parts, body.sha256);
    ctx.body = await view(await s.catalog.get(id), ctx.ip);
  });

  router.delete('/v1/videos/:id/multipart/:upload_id', async (ctx) => {
    await uploads.abort(ctx.state.principal, videoId(ctx.params.id), ctx.params.upload_id!);
    ctx.status = 204;
  });
}
