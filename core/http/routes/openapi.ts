/** GET /openapi.json: the OpenAPI 3.1 document of every route (core/http/openapi.ts). */
import type { Router } from '@koa/router';
import { openApiDocument } from '../openapi.js';
import type { AppState } from '../context.js';

export function openApiRoutes(router: Router<AppState>): void {
  const body = JSON.stringify(openApiDocument());
  router.get('/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = body;
  });
}
