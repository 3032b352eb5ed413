/**
 * Backends benchmark: one Framecast node on the embedded defaults (SQLite + local disk)
 * against one on PostgreSQL + S3 (a throwaway database on the local server, Ceph RGW on
 * loopback from test/helpers/s3-server.ts), same machine, same run, same source.
 *
 *   npm run bench:backends [-- --seconds 60 --upload-mib 256 --preset veryfast]
 *
 * - Pipeline wall time: a 1080p source of `--seconds` (default 60) uploaded, then timed from
 *   the end of the upload to `ready` (polled every 100 ms). Target: S3+PG ≤ 1.15 × disk.
 *   The publish step (ladder encoded → ready, from the node's log times) is shown apart:
 *   on S3 it is a server-side copy of every object (see README "Scale-out").
 * - Upload throughput: a `--upload-mib` file of random bytes in one tus PATCH (the probe
 *   refuses it at once, so no transcode runs), MB/s = 10^6 B/s.
 * - Origin throughput: every segment of the video fetched in sequence, once cold (the
 *   node's LRU has never seen them) and once hot (served from the LRU), MB/s and req/s.
 *
 * Ceph's memstore keeps objects in RAM: the 1080p ladder and the upload fit well under its
 * cap (1 GiB; MEMSTORE_BYTES changes it).
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { api, waitForVideo } from '../test/helpers/api.js';
import { makeClip } from '../test/helpers/media-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../test/helpers/postgres.js';
import { startS3Server, type S3TestServer } from '../test/helpers/s3-server.js';
import { startServer, type TestServer } from '../test/helpers/server.js';
import { fmt, markdownTable, verdict, writeResults } from './report.js';
import { uploadFile } from './tus-file-upload.js';

const MIB = 1024 * 1024;
const TARGET_PIPELINE_RATIO = 1.15;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    'upload-mib': { type: 'string', default: '256' },
    preset: { type: 'string', default: 'veryfast' },
  },
});
const seconds = Number(args.seconds);
const uploadMib = Number(args['upload-mib']);

interface BackendResult {
  backend: string;
  pipeline_s: number;
  publish_s: number | null;
  objects: number;
  upload_mb_per_s: number;
  origin_cold_mb_per_s: number;
  origin_cold_req_per_s: number;
  origin_hot_mb_per_s: number;
  origin_hot_req_per_s: number;
}

function makeRandomFile(file: string, mib: number): Promise<void> {
  const blocks = (function* () {
    for (let i = 0; i < mib; i++) yield randomBytes(MIB);
  })();
  return pipeline(Readable.from(blocks), createWriteStream(file));
}

/** Seconds between the node's "ladder encoded" and "video ready" log lines for the video. */
function publishSeconds(logs: string, videoId: string): number | null {
  const timeOf = (msg: string) => {
    const line = logs.split('\n').find((l) => l.includes(`"video_id":"${videoId}"`) && l.includes(`"msg":"${msg}"`));
    return line ? (JSON.parse(line) as { time: number }).time : undefined;
  };
  const encoded = timeOf('ladder encoded');
  const ready = timeOf('video ready');
  return encoded !== undefined && ready !== undefined ? (ready - encoded) / 1000 : null;
}

/** Every segment URL of the video's HLS ladder. */
async function segmentUrls(node: TestServer, hlsUrl: string): Promise<string[]> {
  const master = new URL(hlsUrl, node.url);
  const variants = (await (await fetch(master)).text()).split('\n').filter((l) => l.endsWith('.m3u8') && !l.startsWith('#'));
  const urls: string[] = [];
  for (const v of variants) {
    const media = new URL(v, master);
    for (const line of (await (await fetch(media)).text()).split('\n')) {
      if (line && !line.startsWith('#')) urls.push(new URL(line, media).href);
    }
  }
  return urls;
}

async function fetchAll(urls: readonly string[]): Promise<{ mbPerS: number; reqPerS: number }> {
  const started = performance.now();
  let bytes = 0;
  for (const url of urls) bytes += (await (await fetch(url)).arrayBuffer()).byteLength;
  const s = (performance.now() - started) / 1000;
  return { mbPerS: bytes / 1e6 / s, reqPerS: urls.length / s };
}

async function measure(backend: string, node: TestServer, clip: string, randomFile: string): Promise<BackendResult> {
  const endpoint = `${node.url}/v1/uploads`;
  const headers = { authorization: `Bearer ${node.adminToken}` };
  const admin = api(node.url, node.adminToken);

  const upload = await uploadFile(endpoint, clip, { headers, metadata: { filename: 'bench-1080p.mp4' } });
  const ready = await waitForVideo(admin, upload.videoId!, undefined, 30 * 60_000);
  const readyAt = Date.now();
  if (ready.status !== 'ready') throw new Error(`${backend}: the video failed: ${JSON.stringify(ready.error)}`);
  const pipeline_s = (readyAt - upload.completedAt) / 1000;

  const random = await uploadFile(endpoint, randomFile, { headers, metadata: { filename: 'random.bin' } });
  const upload_mb_per_s = random.bytes / 1e6 / ((random.completedAt - random.startedAt) / 1000);
  await waitForVideo(admin, random.videoId!);

  const urls = await segmentUrls(node, ready.playback.hls_url);
  const cold = await fetchAll(urls);
  const hot = await fetchAll(urls);
  const result: BackendResult = {
    backend,
    pipeline_s,
    publish_s: publishSeconds(node.logs(), upload.videoId!),
    objects: urls.length,
    upload_mb_per_s,
    origin_cold_mb_per_s: cold.mbPerS,
    origin_cold_req_per_s: cold.reqPerS,
    origin_hot_mb_per_s: hot.mbPerS,
    origin_hot_req_per_s: hot.reqPerS,
  };
  console.error(`${backend}: ${JSON.stringify(result)}`);
  return result;
}

const dir = await mkdtemp(join(tmpdir(), 'framecast-bench-backends-'));
let s3: S3TestServer | undefined;
let database: TestDatabase | undefined;
const nodes: TestServer[] = [];
try {
  console.error(`making a ${seconds} s 1080p source and a ${uploadMib} MiB random file…`);
  const clip = await makeClip(dir, { width: 1920, height: 1080, seconds, name: 'source-1080p.mp4' });
  const randomFile = join(dir, 'random.bin');
  await makeRandomFile(randomFile, uploadMib);
  s3 = await startS3Server();
  const bucket = await s3.createBucket();
  database = await createTestDatabase();
  // Production-like: several HTTP processes would share the CPU with ffmpeg; one keeps it even.
  const config = { transcode: { preset: args.preset }, jobs: { poll_interval_ms: 500 } };

  const disk = await startServer({ config });
  nodes.push(disk);
  const onDisk = await measure('sqlite+disk', disk, clip, randomFile);
  await disk.stop();

  const scale = await startServer({ config, env: { FRAMECAST_DB_URL: database.url, FRAMECAST_STORAGE_URL: s3.url(bucket) } });
  nodes.push(scale);
  const onS3 = await measure('postgres+s3', scale, clip, randomFile);
  await scale.stop();

  const ratio = onS3.pipeline_s / onDisk.pipeline_s;
  const rows = [onDisk, onS3].map((r) => [
    r.backend,
    fmt(r.pipeline_s, 1),
    fmt(r.publish_s, 2),
    String(r.objects),
    fmt(r.upload_mb_per_s, 0),
    `${fmt(r.origin_cold_mb_per_s, 0)} / ${fmt(r.origin_cold_req_per_s, 0)}`,
    `${fmt(r.origin_hot_mb_per_s, 0)} / ${fmt(r.origin_hot_req_per_s, 0)}`,
  ]);
  console.log(`\n${seconds} s 1080p source, preset ${args.preset}, ${uploadMib} MiB upload\n`);
  console.log(
    markdownTable(['backend', 'pipeline s', 'publish s', 'segments', 'tus upload MB/s', 'origin cold MB/s / req/s', 'origin hot MB/s / req/s'], rows),
  );
  console.log(`\npipeline postgres+s3 / sqlite+disk: ${fmt(ratio, 3)}× (target ≤ ${TARGET_PIPELINE_RATIO}×: ${verdict(ratio, TARGET_PIPELINE_RATIO, 'max')})`);
  console.log(`upload into S3 / into disk: ${fmt(onS3.upload_mb_per_s / onDisk.upload_mb_per_s, 2)}×`);
  const file = await writeResults('backends', { seconds, preset: args.preset, upload_mib: uploadMib, results: [onDisk, onS3], pipeline_ratio: ratio });
  console.log(`\nresults: ${file}`);
} finally {
  for (const node of nodes) await node.stop().catch(() => undefined);
  await database?.drop().catch(() => undefined);
  await s3?.stop();
  await rm(dir, { recursive: true, force: true });
}
