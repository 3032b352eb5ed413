/**
 * GET /oembed?url=…&format=json (oEmbed 1.0, https://oembed.com §2.2): the embed of a watch
 * or embed URL of this site, as type "video". What the spec asks of a provider:
 *  - 404 for a URL that is not one of this site's videos (or a video the caller may not see);
 *  - 401 for a private video asked without a valid signed URL (`?token=` of a playback
 *    token for it); with one, the iframe carries that token;
 *  - 501 for a format other than json;
 *  - maxwidth / maxheight bound the embed's size.
 */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { isId } from '../../ids.js';
import { playbackSigner } from '../../origin/signing.js';
import type { Services } from '../../services.js';
import type { AppState } from '../context.js';
import { oembedAnswer, parseShareUrl, requestOrigin, siteBase } from '../video-sharing.js';

const oembedQuery = z.object({
  url: z.string({ error: 'url is required' }).min(1).max(2000),
  format: z.string().default('json'),
  maxwidth: z.coerce.number().int().min(1).max(10_000).optional(),
  maxheight: z.coerce.number().int().min(1).max(10_000).optional(),
});

/** Public answers may be cached by consumers this long (a title change shows after it). */
const PUBLIC_CACHE = 'public, max-age=300';

export function oembedRoutes(router: Router<AppState>, s: Services): void {
  router.get('/oembed', async (ctx) => {
    const q = oembedQuery.parse(ctx.query);
    if (q.format !== 'json') throw new AppError('E_NOT_IMPLEMENTED', `format ${q.format} is not offered (json only)`);
    const base = siteBase(s.config.public_url, ctx);
    const target = parseShareUrl(q.url, [base, requestOrigin(ctx)]);
    const row = target && isId(target.id) ? await s.catalog.find(target.id) : undefined;
    if (!target || !row) throw new AppError('E_NOT_FOUND', 'no video of this site at that url');
    let token: string | undefined;
    if (row.visibility === 'private') {
      if (!playbackSigner(s).verify(row.id, target.token, { ip: ctx.ip })) {
        throw new AppError('E_UNAUTHORIZED', 'this video is private: embed it through a signed URL (?token=)');
      }
      token = target.token;
    }
    const answer = oembedAnswer(await s.catalog.view(row), base, { token, maxWidth: q.maxwidth, maxHeight: q.maxheight });
    ctx.set('Cache-Control', row.visibility === 'private' ? 'private, no-store' : PUBLIC_CACHE);
    // Consumers fetch it from other sites' pages too (client-side unfurling).
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.body = answer;
  });
}
