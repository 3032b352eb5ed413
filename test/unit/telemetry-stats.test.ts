/** The stats math: nearest-rank percentiles and how the totals become the public figures. */
import t from 'tap';
import { percentile, summarizeStats, type EventTotals } from '../../core/telemetry/stats.js';

t.test('nearest-rank percentiles', async (t) => {
  t.equal(percentile([], 50), null, 'no values, no percentile');
  t.equal(percentile([700], 50), 700);
  t.equal(percentile([700], 95), 700);
  t.equal(percentile([100, 200, 300, 1000], 50), 200);
  t.equal(percentile([100, 200, 300, 1000], 95), 1000);
  t.equal(percentile([100, 200, 300, 1000], 75), 300);
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  t.equal(percentile(hundred, 50), 50);
  t.equal(percentile(hundred, 95), 95);
  t.equal(percentile(hundred, 100), 100);
  t.equal(percentile(hundred, 0), 1, 'p0 is the minimum');
  const twenty = Array.from({ length: 20 }, (_, i) => (i + 1) * 10);
  t.equal(percentile(twenty, 95), 190, '19th of 20');
});

const totals: EventTotals = {
  views: 4,
  sessions: 5,
  watchTimeMs: 20_000,
  completedSessions: 2,
  rebufferMs: 1000,
  rebufferCount: 3,
  playbackErrors: 1,
};

t.test('the figures from known totals', async (t) => {
  t.same(summarizeStats('vid', totals, [1000, 300, 100, 200]), {
    video_id: 'vid',
    views: 4,
    unique_sessions: 5,
    watch_time_ms: 20_000,
    completion_rate: 0.5,
    ttff_p50_ms: 200,
    ttff_p95_ms: 1000,
    rebuffer_ratio: 0.05,
    rebuffer_count: 3,
    rebuffer_ms: 1000,
    playback_errors: 1,
  }, 'TTFF values need not arrive sorted');
});

t.test('edges: nothing watched, no views, completions without views', async (t) => {
  const none = summarizeStats('vid', { ...totals, views: 0, watchTimeMs: 0, completedSessions: 0 }, []);
  t.equal(none.completion_rate, 0, 'no views: rate 0, not NaN');
  t.equal(none.rebuffer_ratio, 0, 'no watch time: ratio 0, not Infinity');
  t.equal(none.ttff_p50_ms, null);
  t.equal(none.ttff_p95_ms, null);
  const lostStarts = summarizeStats('vid', { ...totals, views: 1, completedSessions: 3 }, []);
  t.equal(lostStarts.completion_rate, 1, 'never above 1 when view_starts were lost');
});
