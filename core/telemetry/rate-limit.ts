/**
 * A token bucket per client key (the client's IP), held in memory by each HTTP process.
 * Buckets live in a bounded LRU: a key evicted or idle long enough to refill is simply a
 * full bucket again, so forgetting one never lets a client exceed its burst.
 */
import { LRUCache } from 'lru-cache';

export interface RateLimitOptions {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Bucket size: how many requests may arrive at once. */
  burst: number;
  /** Most clients tracked at once (default 10 000). */
  maxClients?: number;
}

/** The verdict for one request; `retryAfterS` says when a token will be there again. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterS: number };

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
}

export class TokenBucketLimiter {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(private readonly opts: RateLimitOptions) {
    if (!(opts.ratePerSecond > 0) || !(opts.burst >= 1)) throw new Error('rate limit: ratePerSecond > 0 and burst >= 1 required');
    this.buckets = new LRUCache({
      max: opts.maxClients ?? 10_000,
      // A bucket left alone this long is full again: no need to keep it.
      ttl: Math.ceil((opts.burst / opts.ratePerSecond) * 1000),
    });
  }

  /** Takes one token for `key` if there is one. */
  take(key: string, now = Date.now()): RateDecision {
    const bucket = this.buckets.get(key) ?? { tokens: this.opts.burst, at: now };
    const tokens = Math.min(this.opts.burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * this.opts.ratePerSecond);
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at: now });
      return { allowed: false, retryAfterS: Math.max(1, Math.ceil((1 - tokens) / this.opts.ratePerSecond)) };
    }
    this.buckets.set(key, { tokens: tokens - 1, at: now });
    return { allowed: true };
  }
}
