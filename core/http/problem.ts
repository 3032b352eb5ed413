/** Turns anything thrown by a route into API.md's error body with a fitting status. */
import type { Middleware } from 'koa';
import { ZodError } from 'zod';
import { AppError, asAppError } from '../errors.js';
import type { Logger } from '../logger.js';

export function errorBody(err: AppError): string {
  return JSON.stringify(err.toBody());
}

export function problemMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new AppError('E_NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
    } catch (err) {
      let appErr: AppError;
      const known = asAppError(err);
      if (known) appErr = known;
      else if (err instanceof ZodError) {
        const detail = err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
        appErr = new AppError('E_BAD_REQUEST', detail);
      } else if (typeof err === 'object' && err !== null && 'status' in err && (err as { status: number }).status < 500) {
        // koa's own errors (body parsing, ctx.throw)
        const status = (err as { status: number }).status;
        appErr = new AppError(status === 413 ? 'E_TOO_LARGE' : 'E_BAD_REQUEST', String((err as { message?: unknown }).message ?? 'bad request'));
      } else {
        logger.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
        appErr = new AppError('E_INTERNAL');
      }
      ctx.status = appErr.status;
      ctx.type = 'application/json';
      ctx.body = appErr.toBody();
    }
  };
}
