/**
 * Prometheus metrics (prom-client) for GET /metrics.
 *
 * Each process keeps its own registry: HTTP processes count requests, uploads and origin
 * hits; the media process counts jobs, transcodes and lives. A node runs several processes
 * under node:cluster, so the supervisor (the cluster primary) aggregates them: the process
 * that answers /metrics asks the primary, which collects every child's registry with
 * prom-client's AggregatorRegistry (counters and histograms summed; gauges read from the
 * database take the max, since every process reports the same figure). Outside a cluster
 * (tests, tools) a process answers with its own registry.
 *
 * Recording is plain function calls on the hot paths; figures that already exist elsewhere
 * (origin counters, queue depth) are read when scraped, through sources set at start-up.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Middleware } from 'koa';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../logger.js';
import type { OriginCounters } from '../origin/metrics.js';
import { FastHistogram, type HistogramSeries } from './fast-histogram.js';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'framecast_' });
/**
 * prom-client's defaults include three gauges named `…_total`, which Prometheus reserves for
 * counters (`promtool check metrics` rejects them). Each is the sum of the by-type gauge of
 * the same name without the suffix, so they go: `sum(framecast_nodejs_active_handles)`.
 */
const DROPPED_DEFAULT_METRICS = ['handles', 'requests', 'resources'].map((what) => `framecast_nodejs_active_${what}_total`);
for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STAGE_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800];

const httpRequests = new Counter({
  name: 'framecast_http_requests_total',
  help: 'HTTP requests answered, by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
  // Instant answers are tallied in plain numbers and added here, when the counter is read.
  collect() {
    flushInstantCounts();
  },
});
// Observed on every request, the media fast path's included: see fast-histogram.ts.
const httpDuration = new FastHistogram(
  'framecast_http_request_duration_seconds',
  'Time to answer an HTTP request, by method and route pattern',
  ['method', 'route'],
  LATENCY_BUCKETS,
  registry,
);
const uploadBytes = new Counter({
  name: 'framecast_upload_bytes_total',
  help: 'Upload bytes accepted by tus (bodies of successful PATCH and creation-with-upload requests)',
  registers: [registry],
});
const uploadsCompleted = new Counter({ name: 'framecast_uploads_completed_total', help: 'Uploads whose last byte arrived', registers: [registry] });
const uploadDuration = new Histogram({
  name: 'framecast_upload_duration_seconds',
  help: 'Time from creating an upload to its last byte',
  buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400],
  registers: [registry],
});
const jobStage = new Histogram({
  name: 'framecast_job_stage_seconds',
  help: 'Time a processing job spent in each stage (queued = waiting for a worker)',
  labelNames: ['stage'] as const,
  buckets: STAGE_BUCKETS,
  registers: [registry],
});
const jobsFinished = new Counter({
  name: 'framecast_jobs_finished_total',
  help: 'Processing jobs finished, by outcome (ready or failed)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
const transcodeCpu = new Counter({
  name: 'framecast_transcode_cpu_seconds_total',
  help: 'CPU seconds (user + system) spent by ffmpeg on VOD ladders',
  registers: [registry],
});
const transcodeWall = new Counter({ name: 'framecast_transcode_seconds_total', help: 'Wall seconds of VOD ladder transcodes', registers: [registry] });
const transcodeRealtime = new Histogram({
  name: 'framecast_transcode_realtime_factor',
  help: 'Media seconds encoded per wall second, per VOD ladder (above 1 = faster than real time)',
  buckets: [0.25, 0.5, 1, 2, 4, 8, 16, 32],
  registers: [registry],
});
const droppedConnections = new Counter({
  name: 'framecast_http_connections_dropped_total',
  help: 'Connections closed on arrival because the HTTP process had http.max_connections open',
  registers: [registry],
});
const liveStreams = new Gauge({ name: 'framecast_live_streams', help: 'Lives on air in this node (publisher connected or within its reconnect window)', registers: [registry] });
const liveSpeed = new Gauge({
  name: 'framecast_live_speed',
  help: 'Live packager speed per live (media seconds per wall second; below 1 = falling behind)',
  labelNames: ['live_id'] as const,
  registers: [registry],
});

type Source<T> = (() => T | Promise<T>) | undefined;
let originSource: Source<OriginCounters>;
let queueSource: Source<{ queued: number; running: number }>;

const ORIGIN_COUNTERS = {
  hits: 'framecast_origin_cache_hits_total',
  misses: 'framecast_origin_cache_misses_total',
  coalesced: 'framecast_origin_coalesced_total',
  not_modified: 'framecast_origin_not_modified_total',
  bytes_served: 'framecast_origin_bytes_served_total',
} as const satisfies Partial<Record<keyof OriginCounters, string>>;

for (const [field, name] of Object.entries(ORIGIN_COUNTERS) as [keyof typeof ORIGIN_COUNTERS, string][]) {
  new Counter({
    name,
    help: `Origin ${field.replace('_', ' ')} (media and live objects served by this node)`,
    registers: [registry],
    async collect() {
      const counters = await originSource?.();
      this.reset();
      if (counters) this.inc(counters[field]);
    },
  });
}

new Gauge({
  name: 'framecast_job_queue_depth',
  help: 'Processing jobs waiting (queued, including delayed retries) and running',
  labelNames: ['status'] as const,
  registers: [registry],
  // Every process reads the same table: aggregate by max, not sum.
  aggregator: 'max',
  async collect() {
    const depth = await queueSource?.();
    if (!depth) return;
    this.set({ status: 'queued' }, depth.queued);
    this.set({ status: 'running' }, depth.running);
  },
});

/** What the metrics read when scraped; set by each process at start-up. */
export function setMetricSources(sources: { origin?: Source<OriginCounters>; queue?: Source<{ queued: number; running: number }> }): void {
  if (sources.origin) originSource = sources.origin;
  if (sources.queue) queueSource = sources.queue;
}

function observeHttp(method: string, route: string, status: number, startedNs: bigint): void {
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  httpRequests.inc({ method, route, status: String(status) });
  httpDuration.observe({ method, route }, seconds);
}

/** Counts a request answered outside Koa (tus uploads, the media fast path) under `route`. */
export function observeRawRequest(req: IncomingMessage, res: ServerResponse, route: string): void {
  const started = process.hrtime.bigint();
  res.once('finish', () => {
    observeHttp(req.method ?? 'GET', route, res.statusCode, started);
    if (route === '/v1/uploads' && (req.method === 'PATCH' || req.method === 'POST') && res.statusCode < 300) {
      const length = Number(req.headers['content-length'] ?? 0);
      if (length > 0) uploadBytes.inc(length);
    }
  });
}

/** Counts a connection refused over `http.max_connections`. */
export function countDroppedConnection(): void {
  droppedConnections.inc();
}

type HttpLabels = { method: string; route: string; status: string };
/** Per method, status and route: the labels, reused, and the requests not yet added to httpRequests. */
export interface InstantTally {
  request: HttpLabels;
  duration: HistogramSeries;
  pending: number;
}
const instantLabels = new Map<string, InstantTally>();

/** Adds the instant answers tallied since the last read to httpRequests (its collect()). */
function flushInstantCounts(): void {
  for (const tally of instantLabels.values()) {
    if (tally.pending === 0) continue;
    httpRequests.inc(tally.request, tally.pending);
    tally.pending = 0;
  }
}

/**
 * The tally of requests answered synchronously, inside their handler (the media fast path's
 * prepared answers), for one method, route and status: the caller keeps it and counts with
 * countInstantAnswer. No 'finish' listener, no label object or key built per request, since
 * at tens of thousands of requests a second the bookkeeping would cost more than the answer.
 * The request counter is a plain number added to prom-client when /metrics is read
 * (prom-client's inc hashes and validates labels on every call).
 */
export function instantAnswerTally(method: string, route: string, status: number): InstantTally {
  const key = `${method} ${status} ${route}`;
  let tally = instantLabels.get(key);
  if (tally === undefined) {
    tally = { request: { method, route, status: String(status) }, duration: httpDuration.series({ method, route }), pending: 0 };
    instantLabels.set(key, tally);
  }
  return tally;
}

/** Counts one instant answer; `startedMs` is performance.now() when the handler began. */
export function countInstantAnswer(tally: InstantTally, startedMs: number): void {
  tally.pending++;
  tally.duration.observe((performance.now() - startedMs) / 1000);
}

/** Koa middleware (first in the chain): counts requests by the router's matched pattern. */
export function httpMetricsMiddleware(): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    let route = 'unmatched';
    ctx.res.once('finish', () => observeHttp(ctx.method, route, ctx.res.statusCode, started));
    try {
      await next();
    } finally {
      const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      if (typeof matched === 'string') route = matched;
    }
  };
}

export const uploadMetrics = {
  completed(createdAtMs: number): void {
    uploadsCompleted.inc();
    uploadDuration.observe(Math.max(0, (Date.now() - createdAtMs) / 1000));
  },
};

const telemetryDropped = new Counter({
  name: 'framecast_telemetry_events_dropped_total',
  help: 'Player telemetry events admitted but not stored: the write-behind buffer was full, or its write failed',
  labelNames: ['reason'],
  registers: [registry],
});

export const telemetryMetrics = {
  dropped(reason: 'buffer_full' | 'write_failed', n: number): void {
    telemetryDropped.inc({ reason }, n);
  },
};

export const jobMetrics = {
  stage(stage: 'queued' | 'probe' | 'transcode' | 'publish', seconds: number): void {
    jobStage.observe({ stage }, Math.max(0, seconds));
  },
  finished(outcome: 'ready' | 'failed'): void {
    jobsFinished.inc({ outcome });
  },
  transcode(run: { wallMs: number; mediaMs: number; cpuSeconds: number | undefined }): void {
    transcodeWall.inc(run.wallMs / 1000);
    if (run.wallMs > 0) transcodeRealtime.observe(run.mediaMs / run.wallMs);
    if (run.cpuSeconds !== undefined && run.cpuSeconds >= 0) transcodeCpu.inc(run.cpuSeconds);
  },
};

/**
 * Live figures, set by the live packagers (live/): how many lives are on air in this process
 * and each one's speed. Call `liveMetrics.ended(id)` when a live ends so its series goes.
 */
const RESTREAM_STATES = ['idle', 'connecting', 'live', 'failed'] as const;
const liveRestreamState = new Gauge({
  name: 'framecast_live_restream_target_state',
  help: 'Restream targets of lives on this node: 1 for the state each target is in, 0 for the others',
  labelNames: ['live_id', 'target', 'state'],
  registers: [registry],
});
const liveRestreamFailures = new Counter({
  name: 'framecast_live_restream_failures_total',
  help: 'Restream attempts that failed (each one is retried with backoff while the live is on air)',
  registers: [registry],
});

export const liveMetrics = {
  onAir(count: number): void {
    liveStreams.set(count);
  },
  speed(liveId: string, speed: number): void {
    liveSpeed.set({ live_id: liveId }, speed);
  },
  ended(liveId: string): void {
    liveSpeed.remove({ live_id: liveId });
  },
  /** A restream target's state; undefined removes its series (the target or the live is gone). */
  restreamState(liveId: string, target: string, state: (typeof RESTREAM_STATES)[number] | undefined): void {
    for (const s of RESTREAM_STATES) {
      if (state === undefined) liveRestreamState.remove({ live_id: liveId, target, state: s });
      else liveRestreamState.set({ live_id: liveId, target, state: s }, s === state ? 1 : 0);
    }
  },
  restreamFailed(): void {
    liveRestreamFailures.inc();
  },
};

/**
 * CPU seconds used so far by this process's finished child processes (ffmpeg), from
 * /proc/self/stat (cutime + cstime); undefined where there is no /proc.
 */
export function childCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[13]) + Number(fields[14]);
    return Number.isFinite(ticks) ? ticks / 100 : undefined;
  } catch {
    return undefined;
  }
}

const REQUEST = 'framecast:metrics-request';
const RESPONSE = 'framecast:metrics-response';
const AGGREGATE_TIMEOUT_MS = 5000;
const pending = new Map<number, (text: string | undefined) => void>();
let nextRequest = 0;

if (cluster.isWorker) {
  // Answer the primary's collection with this registry, and receive aggregated answers.
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry();
  process.on('message', (msg: { type?: string; id?: number; text?: string }) => {
    if (msg?.type !== RESPONSE || typeof msg.id !== 'number') return;
    pending.get(msg.id)?.(msg.text);
    pending.delete(msg.id);
  });
}

/** The metrics text to serve: the whole node's when running under the cluster supervisor. */
export async function metricsText(): Promise<string> {
  if (!cluster.isWorker || !process.send) return registry.metrics();
  const id = nextRequest++;
  const aggregated = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      resolve(undefined);
    }, AGGREGATE_TIMEOUT_MS);
    pending.set(id, (text) => {
      clearTimeout(timer);
      resolve(text);
    });
    process.send!({ type: REQUEST, id });
  });
  // The supervisor did not answer (e.g. an older one): this process's own figures.
  return aggregated ?? registry.metrics();
}

export const METRICS_CONTENT_TYPE = registry.contentType;

/** In the cluster primary: answers children's /metrics requests with the aggregated text. */
export function serveClusterMetrics(logger: Logger): void {
  if (!cluster.isPrimary) return;
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, msg: { type?: string; id?: number }) => {
    if (msg?.type !== REQUEST || typeof msg.id !== 'number') return;
    aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ type: RESPONSE, id: msg.id, text }),
      (err: unknown) => {
        logger.warn({ err }, 'aggregating metrics failed');
        if (worker.isConnected()) worker.send({ type: RESPONSE, id: msg.id });
      },
    );
  });
}
