/** POST /v1/events: player telemetry, anonymous, validated per event and rate-limited per client IP (API.md). */
import type { Router } from '@koa/router';
import { AppError } from '../../errors.js';
import type { Services } from '../../services.js';
import { EventStore } from '../../telemetry/event-store.js';
import { validateBatch } from '../../telemetry/events.js';
import { TokenBucketLimiter } from '../../telemetry/rate-limit.js';
import { readJson } from '../body.js';
import type { AppState } from '../context.js';

/** A player flushes about every 200 ms at most; this leaves room for several tabs behind one address. */
const BATCHES_PER_SECOND = 20;
const BURST = 40;

export function eventRoutes(router: Router<AppState>, s: Services): void {
  const store = new EventStore(s.db.db);
  const limiter = new TokenBucketLimiter({ ratePerSecond: BATCHES_PER_SECOND, burst: BURST });

  router.post('/v1/events', async (ctx) => {
    // Before reading the body: refusing must cost next to nothing.
    const decision = limiter.take(ctx.ip);
    if (!decision.allowed) {
      ctx.set('Retry-After', String(decision.retryAfterS));
      throw new AppError('E_RATE_LIMITED', `too many event batches from this address; retry in ${decision.retryAfterS} s`);
    }
    const batch = validateBatch(await readJson(ctx));
    ctx.status = 202;
    ctx.body = await store.ingest(batch);
  });
}
