/** POST /v1/tokens (admin): creates an API token with scopes; the token is shown once. */
import type { Router } from '@koa/router';
import { z } from 'zod';
import type { Services } from '../../services.js';
import { requireScope, SCOPES } from '../auth.js';
import { readJson } from '../body.js';
import type { AppState } from '../context.js';

const body = z.object({ name: z.string().trim().min(1).max(100), scopes: z.array(z.enum(SCOPES)).min(1) });

export function tokenRoutes(router: Router<AppState>, s: Services): void {
  router.post('/v1/tokens', async (ctx) => {
    requireScope(ctx.state.principal, 'admin');
    const { name, scopes } = body.parse(await readJson(ctx));
    ctx.status = 201;
    ctx.body = await s.auth.createToken(name, scopes);
  });
}
