/** The per-client token bucket, on an explicit clock. */
import t from 'tap';
import { TokenBucketLimiter } from '../../core/telemetry/rate-limit.js';

t.test('a burst is allowed, then the refill rate', async (t) => {
  const limiter = new TokenBucketLimiter({ ratePerSecond: 20, burst: 40 });
  const now = 1_000_000;
  for (let i = 0; i < 40; i++) t.same(limiter.take('a', now), { allowed: true }, `request ${i + 1} of the burst`);
  t.same(limiter.take('a', now), { allowed: false, retryAfterS: 1 }, 'the 41st at the same instant is refused');
  t.same(limiter.take('a', now + 49), { allowed: false, retryAfterS: 1 }, 'less than one token 49 ms later');
  t.same(limiter.take('a', now + 50), { allowed: true }, 'one token every 50 ms');
  t.same(limiter.take('a', now + 50), { allowed: false, retryAfterS: 1 });
  t.same(limiter.take('b', now), { allowed: true }, 'another client has its own bucket');
});

t.test('an idle bucket refills up to the burst, not beyond', async (t) => {
  const limiter = new TokenBucketLimiter({ ratePerSecond: 2, burst: 3 });
  for (let i = 0; i < 3; i++) limiter.take('a', 0);
  t.equal(limiter.take('a', 0).allowed, false);
  let allowed = 0;
  for (let i = 0; i < 10; i++) if (limiter.take('a', 3_600_000).allowed) allowed++;
  t.equal(allowed, 3, 'an hour later: exactly the burst again');
});

t.test('Retry-After grows with a slow refill', async (t) => {
  const limiter = new TokenBucketLimiter({ ratePerSecond: 0.1, burst: 1 });
  t.equal(limiter.take('a', 0).allowed, true);
  t.same(limiter.take('a', 0), { allowed: false, retryAfterS: 10 });
  t.same(limiter.take('a', 5000), { allowed: false, retryAfterS: 5 });
});

t.test('forgetting clients never exceeds the burst', async (t) => {
  const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 2, maxClients: 2 });
  t.equal(limiter.take('a', 0).allowed, true);
  t.equal(limiter.take('b', 0).allowed, true);
  t.equal(limiter.take('c', 0).allowed, true, 'a third client evicts the oldest bucket');
  t.equal(limiter.take('a', 0).allowed, true, 'an evicted client starts from a full bucket');
  t.equal(limiter.take('a', 0).allowed, true);
  t.equal(limiter.take('a', 0).allowed, false, 'and still gets no more than its burst');
});

t.test('nonsense settings are refused', async (t) => {
  t.throws(() => new TokenBucketLimiter({ ratePerSecond: 0, burst: 1 }));
  t.throws(() => new TokenBucketLimiter({ ratePerSecond: 1, burst: 0 }));
});
