/**
 * POST /v1/events: player telemetry, anonymous (API.md "Telemetry").
 *
 * Cheap to refuse and bounded under abuse: a token bucket per client address, then one for
 * all addresses together (both per HTTP process, before the body is read: 429
 * E_RATE_LIMITED with Retry-After); events only for public, ready videos (one read per
 * batch); admitted events go to a bounded write-behind buffer (core/telemetry/
 * event-buffer.ts), never straight to the database, so a flood cannot take SQLite's write
 * lock from uploads and job claims. Events the full buffer could not take are reported
 * refused by index.
 */
import type { Router } from '@koa/router';
import { AppError } from '../../errors.js';
import type { Services } from '../../services.js';
import { EventBuffer } from '../../telemetry/event-buffer.js';
import { EventStore } from '../../telemetry/event-store.js';
import { validateBatch } from '../../telemetry/events.js';
import { TokenBucketLimiter, type RateDecision } from '../../telemetry/rate-limit.js';
import { readJson } from '../body.js';
import type { AppState } from '../context.js';

const ALL_ADDRESSES = '*';

function refuse(decision: Extract<RateDecision, { allowed: false }>, setHeader: (name: string, value: string) => void, why: string): never {
  setHeader('Retry-After', String(decision.retryAfterS));
  throw new AppError('E_RATE_LIMITED', `${why}; retry in ${decision.retryAfterS} s`);
}

/** Registers the route; returns the buffer so the process can write what waits on shutdown. */
export function eventRoutes(router: Router<AppState>, s: Services): EventBuffer {
  const cfg = s.config.telemetry;
  const store = new EventStore(s.db.db);
  const buffer = new EventBuffer(store, { maxEvents: cfg.buffer_max_events, flushIntervalMs: cfg.flush_interval_ms }, s.logger);
  buffer.start();
  const perAddress = new TokenBucketLimiter({ ratePerSecond: cfg.per_address_batches_per_s, burst: Math.max(1, 2 * cfg.per_address_batches_per_s) });
  const total = new TokenBucketLimiter({ ratePerSecond: cfg.total_batches_per_s, burst: Math.max(1, 2 * cfg.total_batches_per_s), maxClients: 1 });

  router.post('/v1/events', async (ctx) => {
    // Before reading the body: refusing must cost next to nothing.
    const mine = perAddress.take(ctx.ip);
    if (!mine.allowed) refuse(mine, (n, v) => ctx.set(n, v), 'too many event batches from this address');
    const all = total.take(ALL_ADDRESSES);
    if (!all.allowed) refuse(all, (n, v) => ctx.set(n, v), 'this server takes no more event batches right now');
    const { rows, rejected } = await store.admit(validateBatch(await readJson(ctx)));
    const taken = buffer.offer(rows.map((r) => r.row));
    const errors = [...rejected, ...rows.slice(taken).map((r) => ({ index: r.index, message: 'dropped: the server is shedding telemetry load' }))];
    errors.sort((a, b) => a.index - b.index);
    ctx.status = 202;
    ctx.body = { accepted: taken, rejected: errors.length, errors };
  });
  return buffer;
}
