/**
 * Operations: /metrics is valid Prometheus text for the whole node (HTTP and media
 * processes aggregated) and its figures move when work happens; /openapi.json documents
 * exactly the routes the node serves (Koa router layers plus the paths served beside Koa),
 * so the document cannot drift from the code. Both pass the tools operators run on them:
 * `promtool check metrics` and Redocly's recommended lint (offline).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Middleware } from 'koa';
import t from 'tap';
import { loadConfig } from '../../config/load.js';
import { closeServices, openServices } from '../../core/app.js';
import { openApiDocument, SERVED_BESIDE_KOA } from '../../core/http/openapi.js';
import { createKoaApp } from '../../core/http/server.js';
import { createLogger } from '../../core/logger.js';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { REPO_ROOT, startServer } from '../helpers/server.js';

const dir = await mkdtemp(join(tmpdir(), 'framecast-ops-'));
const server = await startServer();
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);

type Samples = Map<string, number>;

/** Parses the text exposition strictly: every line is a comment (HELP/TYPE) or a sample. */
function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const labels = `\\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*")*,?)?\\}`;
  const sample = new RegExp(`^(${name})(${labels})? (-?(?:[0-9.]+(?:e[+-]?[0-9]+)?|NaN|\\+Inf|-Inf))(?: -?[0-9]+)?$`);
  const comment = new RegExp(`^# (?:HELP ${name} .*|TYPE ${name} (?:counter|gauge|histogram|summary|untyped))$`);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (comment.test(line)) continue;
    const m = sample.exec(line);
    if (!m) throw new Error(`not a Prometheus line: ${JSON.stringify(line)}`);
    samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return samples;
}

async function scrape(): Promise<Samples> {
  const r = await fetch(`${server.url}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  if (!/^text\/plain/.test(r.headers.get('content-type') ?? '')) throw new Error('not text/plain');
  return parseMetrics(await r.text());
}

/** Sum of the samples of a metric whose labels contain `match`. */
function total(s: Samples, metric: string, match = ''): number {
  let sum = 0;
  for (const [k, v] of s) if ((k === metric || k.startsWith(`${metric}{`)) && k.includes(match)) sum += v;
  return sum;
}

t.test('/metrics parses and moves when work happens', async (t) => {
  const before = await scrape();
  const clip = await makeClip(dir, { width: 320, height: 180, seconds: 1 });
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'Measured' } });
  const video = await waitForVideo(admin, up.videoId!);
  t.equal(video.status, 'ready');
  for (let i = 0; i < 3; i++) await (await fetch(`${server.url}${video.playback.hls_url}`)).arrayBuffer();
  const after = await scrape();

  const moved = (metric: string, match = '') => total(after, metric, match) - total(before, metric, match);
  t.ok(moved('framecast_http_requests_total', 'route="/v1/videos/:id",status="200"') >= 1, 'HTTP requests by route pattern and status');
  t.ok(moved('framecast_http_requests_total', 'route="/media/{id}/{version}/{file}"') >= 3, 'media fast path requests');
  t.ok(moved('framecast_http_request_duration_seconds_count', 'route="/v1/videos/:id"') >= 1, 'HTTP latency histogram');
  t.ok(moved('framecast_upload_bytes_total') >= 1000, 'upload bytes');
  t.equal(moved('framecast_uploads_completed_total'), 1, 'one upload completed');
  t.equal(moved('framecast_upload_duration_seconds_count'), 1, 'its duration observed');
  for (const stage of ['queued', 'probe', 'transcode', 'publish']) {
    t.equal(moved('framecast_job_stage_seconds_count', `stage="${stage}"`), 1, `job latency of stage ${stage} (from the media process)`);
  }
  t.equal(moved('framecast_jobs_finished_total', 'outcome="ready"'), 1);
  t.ok(moved('framecast_transcode_cpu_seconds_total') > 0, 'transcode CPU seconds');
  t.equal(moved('framecast_transcode_realtime_factor_count'), 1, 'realtime factor observed');
  t.ok(moved('framecast_origin_cache_hits_total') >= 2, 'origin hits');
  t.ok(moved('framecast_origin_cache_misses_total') >= 1, 'origin misses');
  t.ok(after.has('framecast_job_queue_depth{status="queued"}'), 'queue depth');
  t.ok([...after.keys()].some((k) => k.startsWith('framecast_live_streams')), 'live streams gauge');
});

/** Koa paths (`/v1/videos/:id`, `/assets/{*path}`) in OpenAPI form (`/v1/videos/{id}`). */
function openApiPath(koaPath: string): string {
  return koaPath.replace(/\{\*([A-Za-z0-9_]+)\}/g, '{$1}').replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

t.test('/openapi.json documents every route and nothing else', async (t) => {
  const served = await fetch(`${server.url}/openapi.json`);
  t.equal(served.status, 200);
  const doc = (await served.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
  t.equal(doc.openapi, '3.1.0');
  t.same(doc, openApiDocument(), 'the node serves the document');

  const config = loadConfig({ overrides: { data_dir: join(dir, 'openapi-node'), admin_token: 'openapi-test' }, env: {} });
  const services = await openServices(config, createLogger('silent'), 'http');
  t.teardown(() => closeServices(services));
  const app = createKoaApp(services);
  const dispatch = app.middleware.find((m) => 'router' in m) as (Middleware & { router: { stack: { path: string; methods: string[] }[] } }) | undefined;
  if (!dispatch) throw new Error('no router in the Koa app');

  const routed = new Set<string>();
  for (const layer of dispatch.router.stack) {
    for (const method of layer.methods) {
      // @koa/router adds HEAD to every GET: documented as the GET.
      if (method === 'HEAD' && layer.methods.includes('GET')) continue;
      routed.add(`${method.toLowerCase()} ${openApiPath(layer.path)}`);
    }
  }
  const documented = new Set<string>();
  const beside = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    const servedBy = item['x-served-by'];
    for (const method of Object.keys(item).filter((k) => !k.startsWith('x-'))) {
      (servedBy ? beside : documented).add(`${method} ${path}`);
    }
    if (servedBy) t.ok((SERVED_BESIDE_KOA as readonly unknown[]).includes(servedBy), `${path} is served by ${String(servedBy)}`);
  }
  t.same([...routed].filter((r) => !documented.has(r)).sort(), [], 'every router layer is documented');
  t.same([...documented].filter((r) => !routed.has(r)).sort(), [], 'every documented Koa route exists');

  // The paths served beside Koa answer as documented.
  const tus = await fetch(`${server.url}/v1/uploads`, { method: 'OPTIONS' });
  t.equal(tus.headers.get('tus-version'), '1.0.0', 'tus answers /v1/uploads');
  t.ok(beside.has('post /v1/uploads') && beside.has('patch /v1/uploads/{upload_id}') && beside.has('head /v1/uploads/{upload_id}'), 'tus is documented');
  t.ok(beside.has('get /media/{id}/{version}/{file}'), 'the media fast path is documented');
  const media = await fetch(`${server.url}/media/nope/v1/master.m3u8`);
  t.equal(media.status, 404, 'the media fast path answers');
  t.ok(beside.has('get /plugins/{plugin}/{path}'), 'plugin routes are documented');
});

const noPromtool = spawnSync('sh', ['-c', 'command -v promtool']).status !== 0 && 'promtool is not installed (Debian: apt-get install prometheus)';
t.test('promtool check metrics accepts /metrics', { skip: noPromtool }, async (t) => {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  t.equal(check.stdout + check.stderr, '', 'no problems reported');
  t.equal(check.status, 0, 'promtool exits 0');
});

t.test("Redocly's recommended lint accepts /openapi.json", async (t) => {
  const file = join(dir, 'openapi.json');
  await writeFile(file, await (await fetch(`${server.url}/openapi.json`)).text());
  const lint = spawnSync(join(REPO_ROOT, 'node_modules/.bin/redocly'), ['lint', file, '--format=json', '--extends=recommended'], {
    cwd: dir, // no redocly.yaml here: the built-in recommended rules
    encoding: 'utf8',
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_UPDATE_NOTIFIER: '1' },
    timeout: 120_000,
  });
  const report = JSON.parse(lint.stdout) as { problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[] };
  const problems = report.problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer ?? ''}: ${p.message}`);
  // The project has not chosen a license, and the document must not invent one.
  t.same(problems.filter((p) => !p.includes('info-license')), [], 'no errors and no warnings but the missing license');
  t.equal(lint.status, 0, 'redocly exits 0');
});
