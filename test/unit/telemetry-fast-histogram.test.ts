/**
 * The hot-path histogram reads out exactly as prom-client's own Histogram would for the same
 * observations (text format and the cluster aggregator's sums), so /metrics does not change.
 */
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import t from 'tap';
import { FastHistogram } from '../../core/telemetry/fast-histogram.js';

const BOUNDS = [0.001, 0.01, 0.1, 1];
const OBSERVED: [{ method: string; route: string }, number][] = [
  [{ method: 'GET', route: '/media/{id}' }, 0.0004],
  [{ method: 'GET', route: '/media/{id}' }, 0.001], // on a bound: counted in it (le)
  [{ method: 'GET', route: '/media/{id}' }, 0.05],
  [{ method: 'HEAD', route: '/media/{id}' }, 3],
  [{ method: 'GET', route: '/v1/videos' }, 0.2],
];

function both(): { ours: Registry; theirs: Registry } {
  const ours = new Registry();
  const theirs = new Registry();
  const fast = new FastHistogram('x_seconds', 'help text', ['method', 'route'], BOUNDS, ours);
  const prom = new Histogram({ name: 'x_seconds', help: 'help text', labelNames: ['method', 'route'], buckets: BOUNDS, registers: [theirs] });
  const kept = fast.series({ method: 'GET', route: '/media/{id}' });
  for (const [labels, v] of OBSERVED) {
    if (labels.method === 'GET' && labels.route === '/media/{id}') kept.observe(v);
    else fast.observe(labels, v);
    prom.observe(labels, v);
  }
  return { ours, theirs };
}

t.test('the text format is line for line what prom-client writes', async (t) => {
  const { ours, theirs } = both();
  const sorted = async (r: Registry) => (await r.metrics()).split('\n').sort();
  t.same(await sorted(ours), await sorted(theirs));
  t.match(await ours.metrics(), /x_seconds_bucket\{le="0.001",method="GET",route="\/media\/\{id\}"\} 2/);
});

t.test('the cluster aggregator sums it across processes like a prom-client histogram', async (t) => {
  const a = both();
  const b = both();
  const sum = async (rs: Registry[]) =>
    (await AggregatorRegistry.aggregate(await Promise.all(rs.map((r) => r.getMetricsAsJSON()))).metrics()).split('\n').sort();
  t.same(await sum([a.ours, b.ours]), await sum([a.theirs, b.theirs]));
  t.match((await sum([a.ours, b.ours])).join('\n'), /x_seconds_count\{method="GET",route="\/media\/\{id\}"\} 6/);
});

t.test('reset empties it', async (t) => {
  const r = new Registry();
  const h = new FastHistogram('y', 'h', ['a'], BOUNDS, r);
  h.observe({ a: '1' }, 0.5);
  r.resetMetrics();
  t.notMatch(await r.metrics(), /y_count/);
});
