/**
 * Catalog benchmark: seeds N videos (default 1,000,000) with realistic titles, descriptions
 * and tags (plus engagement for the feed) straight into a fresh node's SQLite database,
 * then measures GET /v1/videos/:id, GET /v1/search and GET /v1/feed at 200 concurrent
 * requests. Targets (issue 6): get p99 ≤ 5 ms, search and feed p99 ≤ 30 ms.
 *
 *   npm run bench:catalog -- [--videos N] [--requests N] [--concurrency N] [--workers N]
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSeedDb, seedVideos, type SeedVideo } from '../test/helpers/catalog-seed.js';
import { startServer } from '../test/helpers/server.js';
import { fmt, markdownTable, verdict, writeResults } from './report.js';

const { values } = parseArgs({
  options: {
    videos: { type: 'string', default: '1000000' },
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '200' },
    workers: { type: 'string', default: '2' },
  },
});
const VIDEOS = Number(values.videos);
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);

// A small deterministic PRNG: the same catalog every run.
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;

const ADJECTIVES = ['quick', 'easy', 'ultimate', 'beginner', 'advanced', 'live', 'full', 'best', 'first', 'cozy', 'epic', 'hidden', 'classic', 'homemade', 'secret', 'daily'];
const SUBJECTS = ['pasta', 'sourdough', 'guitar', 'piano', 'chess', 'yoga', 'woodworking', 'watercolor', 'drone', 'kayak', 'garden', 'espresso', 'typescript', 'rust', 'linux', 'kubernetes', 'photography', 'bouldering', 'marathon', 'synth', 'knitting', 'ceramics', 'astronomy', 'birdwatching', 'skateboard', 'origami', 'camping', 'bread', 'ramen', 'salsa'];
const FORMATS = ['tutorial', 'review', 'vlog', 'guide', 'lesson', 'challenge', 'walkthrough', 'highlights', 'tips', 'setup', 'recipe', 'session', 'tour', 'basics', 'masterclass'];
const PLACES = ['in Lisbon', 'at home', 'in the mountains', 'on a budget', 'for kids', 'in 10 minutes', 'from scratch', 'at sunrise', 'in the rain', 'with friends', 'in Kyoto', 'by the sea'];
const TAGS = ['howto', 'diy', 'music', 'food', 'travel', 'tech', 'sports', 'art', 'nature', 'education', 'gaming', 'fitness', 'outdoors', 'cooking', 'coding'];

function video(i: number, now: number): SeedVideo {
  const subject = pick(SUBJECTS);
  return {
    id: `b${i.toString(36).padStart(11, '0')}`,
    title: `${pick(ADJECTIVES)} ${subject} ${pick(FORMATS)} ${rand() < 0.5 ? pick(PLACES) : `part ${1 + Math.floor(rand() * 20)}`}`,
    description: `A ${pick(FORMATS)} about ${subject} ${pick(PLACES)}. Episode ${i}.`,
    tags: [pick(TAGS), pick(TAGS), subject],
    visibility: rand() < 0.9 ? 'public' : 'unlisted',
    created_at: now - (VIDEOS - i) * 1000,
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const server = await startServer({ env: { FRAMECAST_WORKERS: values.workers!, FRAMECAST_ROLES: 'api' }, config: { log_level: 'warn' } });
try {
  const db = openSeedDb(join(server.dataDir, 'framecast.db'));
  const now = Date.now();
  const started = Date.now();
  const BATCH = 20_000;
  for (let from = 0; from < VIDEOS; from += BATCH) {
    seedVideos(db, Array.from({ length: Math.min(BATCH, VIDEOS - from) }, (_, k) => video(from + k, now)));
  }
  // Engagement: 20,000 videos watched in the last days, most of it recent.
  const events = db.prepare("insert into playback_events (video_id, session_id, type, ts, received_at) values (?, ?, 'view_start', ?, ?)");
  db.transaction(() => {
    for (let e = 0; e < 100_000; e++) {
      const i = Math.floor(rand() ** 3 * Math.min(VIDEOS, 20_000));
      const at = now - Math.floor(rand() * 3 * 86_400_000);
      events.run(`b${(VIDEOS - 1 - i).toString(36).padStart(11, '0')}`, `bench-session-${e}`, at, at);
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const seedSeconds = (Date.now() - started) / 1000;
  console.log(`seeded ${VIDEOS} videos and 100000 events in ${seedSeconds.toFixed(1)} s`);

  const words = [...SUBJECTS, ...FORMATS, 'past', 'gui', 'kyo', 'sour'];
  const feedCursors: string[] = [];
  const first = (await (await fetch(`${server.url}/v1/feed?limit=20`)).json()) as { next_cursor: string | null };
  if (first.next_cursor) feedCursors.push(first.next_cursor);
  const targets = {
    get: () => `/v1/videos/b${Math.floor(rand() * VIDEOS).toString(36).padStart(11, '0')}`,
    search: () => `/v1/search?q=${encodeURIComponent(rand() < 0.5 ? pick(words) : `${pick(SUBJECTS)} ${pick(FORMATS)}`)}&limit=20`,
    feed: () => (rand() < 0.7 || feedCursors.length === 0 ? '/v1/feed?limit=20' : `/v1/feed?limit=20&cursor=${encodeURIComponent(pick(feedCursors))}`),
  } as const;

  const results: Record<string, { p50: number; p99: number; rps: number; errors: number }> = {};
  for (const [name, next] of Object.entries(targets)) {
    // Warm-up, then the measured run.
    for (const count of [Math.min(2000, REQUESTS / 5), REQUESTS]) {
      const latencies: number[] = [];
      let errors = 0;
      let issued = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (issued < count) {
            issued++;
            const path = next();
            const s = performance.now();
            const r = await fetch(server.url + path);
            await r.arrayBuffer();
            latencies.push(performance.now() - s);
            if (r.status !== 200) errors++;
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      latencies.sort((a, b) => a - b);
      results[name] = { p50: percentile(latencies, 50), p99: percentile(latencies, 99), rps: latencies.length / seconds, errors };
    }
  }

  const targetsMs: Record<string, number> = { get: 5, search: 30, feed: 30 };
  console.log(`\n${VIDEOS} videos, ${REQUESTS} requests per endpoint, ${CONCURRENCY} concurrent, ${values.workers} HTTP processes\n`);
  console.log(
    markdownTable(
      ['endpoint', 'p50 ms', 'p99 ms', 'req/s', 'errors', 'target p99', 'verdict'],
      Object.entries(results).map(([name, r]) => [name, fmt(r.p50), fmt(r.p99), fmt(r.rps, 0), String(r.errors), `≤ ${targetsMs[name]} ms`, verdict(r.p99, targetsMs[name]!, 'max')]),
    ),
  );
  console.log(`\nresults: ${await writeResults('catalog', { videos: VIDEOS, requests: REQUESTS, concurrency: CONCURRENCY, workers: Number(values.workers), seedSeconds, results })}`);
} finally {
  await server.stop();
  await rm(server.dataDir, { recursive: true, force: true });
}
