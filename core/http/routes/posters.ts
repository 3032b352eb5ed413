/** POST /v1/videos/:id/poster: `{"time_s"}` or a JPEG/PNG body (API.md "poster"). */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { choosePoster } from '../../catalog/posters.js';
import { publishTextTracks } from '../../captions/text-track-publisher.js';
import { AppError } from '../../errors.js';
import { isPosterImageType, POSTER_IMAGE_TYPES } from '../../media/poster-choice.js';
import type { Services } from '../../services.js';
import { readJson } from '../body.js';
import type { AppContext, AppState } from '../context.js';
import { loadManagedVideo, videoViewer } from './videos.js';

const timeBody = z.object({ time_s: z.number().finite().min(0) }).strict();

/** The request body, refused past `limit` bytes without reading the rest. */
async function readImage(ctx: AppContext, limit: number): Promise<Buffer> {
  const tooLarge = () => {
    ctx.set('Connection', 'close');
    return new AppError('E_TOO_LARGE', `the image is over limits.max_poster_bytes (${limit} bytes)`);
  };
  if (Number(ctx.get('content-length')) > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  if (size === 0) throw new AppError('E_BAD_REQUEST', 'the body is empty');
  return Buffer.concat(chunks);
}

export function posterRoutes(router: Router<AppState>, s: Services): void {
  const view = videoViewer(s);

  router.post('/v1/videos/:id/poster', async (ctx) => {
    const row = await loadManagedVideo(s, ctx.params.id!, ctx.state.principal);
    const type = (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
    let updated;
    if (isPosterImageType(type)) {
      updated = await choosePoster(s, row, { kind: 'image', type, bytes: await readImage(ctx, s.config.limits.max_poster_bytes) });
    } else if (type === '' || /json/.test(type)) {
      const body = timeBody.parse(await readJson(ctx));
      updated = await choosePoster(s, row, { kind: 'time', time_s: body.time_s });
    } else {
      throw new AppError('E_BAD_REQUEST', `send {"time_s"} as JSON or an image as ${Object.keys(POSTER_IMAGE_TYPES).join(' or ')}`);
    }
    // The manifest the video points at names its poster: a new master revision (new URLs).
    await publishTextTracks(s, row.id);
    ctx.body = await view(await s.catalog.get(updated.id), ctx.ip);
  });
}
