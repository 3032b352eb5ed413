/** POST /v1/videos/:id/clips: a new video from a range of a ready one (API.md "clips"). */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { createClip } from '../../catalog/clips.js';
import type { Services } from '../../services.js';
import { ownerOf } from '../auth.js';
import { readJson } from '../body.js';
import type { AppState } from '../context.js';
import { loadManagedVideo, videoViewer } from './videos.js';

const clipBody = z
  .object({
    start_s: z.number().finite().min(0),
    end_s: z.number().finite().positive(),
    title: z.string().trim().min(1).max(500).optional(),
    snap: z.boolean().optional(),
  })
  .strict();

export function clipRoutes(router: Router<AppState>, s: Services): void {
  const view = videoViewer(s);

  router.post('/v1/videos/:id/clips', async (ctx) => {
    // Clipping publishes the parent's pictures again: only who may change the parent may do it.
    const parent = await loadManagedVideo(s, ctx.params.id!, ctx.state.principal);
    const body = clipBody.parse(await readJson(ctx));
    const clip = await createClip(s, parent, body, ownerOf(ctx.state.principal));
    ctx.status = 201;
    ctx.body = await view(clip, ctx.ip);
  });
}
