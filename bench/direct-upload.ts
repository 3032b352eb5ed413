/**
 * Direct uploads against tus, into the same Ceph RGW bucket, same machine, same run: one
 * Chromium page uploads the same file with Uppy's
 * @uppy/aws-s3 multipart plugin (parts PUT straight to the bucket, test/fixtures/
 * uppy-direct-upload.js) and with tus-js-client (through the node, which streams it into
 * the bucket with @tus/s3-store and then moves it to the source key).
 *
 *   npm run bench:direct-upload [-- --size-mib 1024 --runs 1]
 *
 * Reports wall seconds (start → the upload is complete and processing is queued), MB/s,
 * and the CPU the node's processes spent per upload: the direct path should cost the node
 * almost nothing. The file is random bytes on disk, picked in a file input (the probe refuses
 * it at once: no transcode runs). The test S3 server keeps objects in RAM: its cap is raised to hold three
 * copies (tus writes the upload, then copies it to the source key), and each run's video is
 * deleted before the next.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { api, waitForVideo } from '../test/helpers/api.js';
import { launchBrowser } from '../test/helpers/browser.js';
import { startS3Server } from '../test/helpers/s3-server.js';
import { startServer } from '../test/helpers/server.js';
import { childrenOf, cpuTimes } from './proc-stats.js';
import { fmt, markdownTable, median, writeResults } from './report.js';

const MIB = 1024 * 1024;
const { values: args } = parseArgs({ options: { 'size-mib': { type: 'string', default: '1024' }, runs: { type: 'string', default: '1' } } });
const SIZE = Number(args['size-mib']) * MIB;
const RUNS = Number(args.runs);
const PART_BYTES = 16 * MIB;
/** tus PATCH size, as the upload page sends (web/assets/upload.js): one PATCH of a whole GiB crashed the page. */
const TUS_CHUNK_BYTES = 64 * MIB;

const work = await mkdtemp(join(tmpdir(), 'framecast-bench-direct-'));
const entry = `
import * as tus from 'tus-js-client';
import ${JSON.stringify(fileURLToPath(new URL('../test/fixtures/uppy-direct-upload.js', import.meta.url)))};
window.tusUpload = ({ api, token, blob }) => new Promise((resolve, reject) => {
  new tus.Upload(blob, { endpoint: api + '/v1/uploads', headers: { authorization: 'Bearer ' + token }, chunkSize: ${TUS_CHUNK_BYTES},
    metadata: { filename: 'bench.bin' }, onSuccess: resolve, onError: reject,
    onAfterResponse: (_req, res) => { const id = res.getHeader('Framecast-Video-Id'); if (id) window.lastVideoId = id; } }).start();
});`;
const bundle = (await build({ stdin: { contents: entry, resolveDir: process.cwd() }, bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'error' })).outputFiles[0]!.text;


process.env.MEMSTORE_BYTES ??= String(Math.max(1024 ** 3, 3 * SIZE + 512 * MIB));
const s3 = await startS3Server();
const bucket = await s3.createBucket();
const cors = '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader></CORSRule></CORSConfiguration>';
await (s3.client as unknown as { makeRequestAsyncOmit(o: object, body: string, codes: number[]): Promise<unknown> }).makeRequestAsyncOmit(
  { method: 'PUT', bucketName: bucket, query: 'cors', headers: { 'Content-MD5': createHash('md5').update(cors).digest('base64') } },
  cors,
  [200],
);
const server = await startServer({ config: { log_level: 'warn', uploads: { multipart_part_bytes: PART_BYTES } }, env: { FRAMECAST_STORAGE_URL: s3.url(bucket) } });
const admin = api(server.url, server.adminToken);
const nodeCpu = () => [server.process.pid!, ...childrenOf(server.process.pid!)].reduce((sum, pid) => sum + cpuTimes(pid).self, 0);
const browser = await launchBrowser({ extraArgs: ['--disable-features=LocalNetworkAccessChecks'] });
const page = await browser.newPage();
// A failed part says why here (Uppy reports only "Unknown error" for a request the browser dropped).
page.on('requestfailed', (r) => console.log(`request failed: ${r.method()} ${r.url().slice(0, 120)}: ${r.failure()?.errorText}`));
page.on('response', (r) => {
  if (r.status() >= 400) console.log(`HTTP ${r.status()}: ${r.request().method()} ${r.url().slice(0, 120)}`);
});
// The page as if served by the node (the API takes no cross-origin calls), answered by Playwright.
await page.route(`${server.url}/__bench/**`, (route) => {
  const path = new URL(route.request().url()).pathname;
  if (path === '/__bench/bench.js') return route.fulfill({ contentType: 'text/javascript', body: bundle });
  return route.fulfill({ contentType: 'text/html', body: '<!doctype html><input type="file" id="file"><script src="/__bench/bench.js"></script>' });
});
await page.goto(`${server.url}/__bench/`);
// The file picked in a file input, as a user does: a File backed by the disk (a GiB neither
// crosses the DevTools protocol as one body nor fits Chromium's in-memory blob storage).
const file = join(work, 'upload.bin');
const out = createWriteStream(file);
for (let at = 0; at < SIZE; at += 16 * MIB) if (!out.write(randomBytes(Math.min(16 * MIB, SIZE - at)))) await once(out, 'drain');
await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
await page.setInputFiles('#file', file);
await page.evaluate(() => {
  (window as unknown as { benchBlob: Blob }).benchBlob = (document.getElementById('file') as HTMLInputElement).files![0]!;
});

type Way = 'uppy_direct' | 'tus';
const results: Record<Way, { seconds: number; node_cpu_s: number }[]> = { uppy_direct: [], tus: [] };
try {
  for (let i = 0; i < RUNS; i++) {
    for (const way of ['uppy_direct', 'tus'] as Way[]) {
      const video = way === 'uppy_direct' ? (await admin.json('POST', '/v1/videos', { title: 'bench' })).body.id : undefined;
      const cpu0 = nodeCpu();
      const run = { api: server.url, token: server.adminToken, videoId: video, partSize: PART_BYTES };
      const ms = await page.evaluate(async ({ way, run }) => {
        const w = window as unknown as { benchBlob: Blob; directUpload(a: unknown): Promise<string>; tusUpload(a: unknown): Promise<void> };
        const t0 = performance.now();
        if (way === 'tus') await w.tusUpload({ ...run, blob: w.benchBlob });
        else await w.directUpload({ ...run, blob: w.benchBlob });
        return performance.now() - t0;
      }, { way, run });
      const node_cpu_s = nodeCpu() - cpu0;
      const id = video ?? (await page.evaluate(() => (window as unknown as { lastVideoId: string }).lastVideoId));
      await waitForVideo(admin, id, (v) => v.status === 'failed' || v.status === 'ready', 120_000);
      await admin.json('DELETE', `/v1/videos/${id}`);
      results[way].push({ seconds: ms / 1000, node_cpu_s });
      console.log(`${way} run ${i + 1}: ${fmt(ms / 1000)} s, node CPU ${fmt(node_cpu_s)} s`);
    }
  }
  const summary = Object.fromEntries(
    (Object.keys(results) as Way[]).map((way) => {
      const seconds = median(results[way].map((r) => r.seconds));
      return [way, { seconds, mb_per_s: SIZE / 1e6 / seconds, node_cpu_s: median(results[way].map((r) => r.node_cpu_s)) }];
    }),
  ) as Record<Way, { seconds: number; mb_per_s: number; node_cpu_s: number }>;
  console.log(`\n${SIZE / MIB} MiB from Chromium into Ceph RGW (median of ${RUNS}):\n`);
  console.log(
    markdownTable(
      ['client', 'seconds', 'MB/s', 'node CPU s'],
      (Object.keys(summary) as Way[]).map((way) => [way === 'tus' ? 'tus-js-client through the node' : 'Uppy @uppy/aws-s3, parts to the bucket', fmt(summary[way].seconds), fmt(summary[way].mb_per_s, 1), fmt(summary[way].node_cpu_s)]),
    ),
  );
  console.log(`\nwritten to ${await writeResults('direct-upload', { size_bytes: SIZE, runs: results, summary })}`);
} finally {
  await browser.close();
  await server.stop();
  await s3.removeBucket(bucket).catch(() => undefined);
  await s3.stop();
  await rm(work, { recursive: true, force: true });
}
