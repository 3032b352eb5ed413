/**
 * /v1/tokens (admin): create an API token with scopes (the token is shown once), list the
 * tokens (never their secrets), revoke one.
 */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { listTokens, revokeToken } from '../../admin/api-tokens.js';
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

  router.get('/v1/tokens', async (ctx) => {
    requireScope(ctx.state.principal, 'admin');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { items: await listTokens(s.db.db) };
  });

  router.delete('/v1/tokens/:id', async (ctx) => {
    requireScope(ctx.state.principal, 'admin');
    const token = await revokeToken(s.db.db, ctx.params.id ?? '');
    s.logger.info({ token_id: token.id }, 'token revoked');
    ctx.body = token;
  });
}
