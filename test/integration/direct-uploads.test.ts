/**
 * Direct-to-storage uploads (API.md "direct uploads"), driven the way users drive them: Uppy's
 * @uppy/aws-s3 multipart plugin in Chromium, on a page of another origin, configured with
 * Framecast's calls. On Ceph RGW the parts go straight to the bucket (the node never sees an
 * uploaded byte); on the fs backend the same flow PUTs the parts to signed node URLs. Each
 * run closes the tab after the first part, resumes in a new tab (only the missing part is
 * sent), and the video becomes ready from exactly the file's bytes.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import t, { type Test } from 'tap';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { api, waitForVideo } from '../helpers/api.js';
import { launchBrowser } from '../helpers/browser.js';
import { FFMPEG } from '../helpers/media-fixtures.js';
import { s3Unavailable, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { startServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const PART_BYTES = 5 * 1024 * 1024;

const work = await mkdtemp(join(tmpdir(), 'framecast-direct-'));
t.teardown(() => rm(work, { recursive: true, force: true }));

// ~9 MB: noise defeats compression, so two parts of 5 MiB.
const file = join(work, 'direct.mp4');
await run(FFMPEG, ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30,noise=alls=60:allf=t', '-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', file]);
const bytes = await readFile(file);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// The page, as if served by the node (Framecast's API takes no cross-origin calls: an upload
// page lives on the node, as /upload does, or behind the site's own backend). Playwright
// answers its URLs; the part PUTs and API calls are real.
const bundle = (await build({ entryPoints: [join(import.meta.dirname, '../fixtures/uppy-direct-upload.js')], bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'error' })).outputFiles[0]!.text;


// The page comes from Playwright (no address), the bucket is on loopback: Chromium's Local
// Network Access would ask the user; a page on a real host asks nothing of a real bucket.
const browser: Browser = await launchBrowser({ extraArgs: ['--disable-features=LocalNetworkAccessChecks'] });
t.teardown(() => browser.close());

// Ceph takes seconds to come up: it starts now, beside the fs flow, for the S3 test at the end.
const noS3 = s3Unavailable();
const s3Started = noS3 ? undefined : startS3Server();
s3Started?.catch(() => undefined); // a failure to start is reported by the S3 test, which awaits it
t.teardown(async () => (await s3Started?.catch(() => undefined))?.stop());

interface Run {
  uploadId: string;
  /** Part PUTs the resumed tab sent, by URL origin. */
  resumedPuts: string[];
  firstPuts: string[];
}

/** Starts an Uppy upload in one tab, closes it after the first part, resumes in another. */
async function uploadWithUppy(t: Test, server: TestServer, videoId: string): Promise<Run> {
  const args = { api: server.url, token: server.adminToken, videoId, fileUrl: `${server.url}/__direct-upload-test/direct.mp4`, partSize: PART_BYTES };
  const tab = async (extra: Record<string, unknown>) => {
    const p = await browser.newPage();
    const puts: string[] = [];
    p.on('console', (m) => {
      if (m.type() === 'error') t.comment(`page: ${m.text()}`);
    });
    p.on('request', (r) => {
      if (r.method() === 'PUT') puts.push(new URL(r.url()).origin);
    });
    await p.route(`${server.url}/__direct-upload-test/**`, (route) => {
      const path = new URL(route.request().url()).pathname.replace('/__direct-upload-test', '');
      if (path === '/uppy.js') return route.fulfill({ contentType: 'text/javascript', body: bundle });
      if (path === '/direct.mp4') return route.fulfill({ contentType: 'video/mp4', body: bytes });
      return route.fulfill({ contentType: 'text/html', body: '<!doctype html><script src="/__direct-upload-test/uppy.js"></script>' });
    });
    await p.goto(`${server.url}/__direct-upload-test/`);
    const uploadId = (await p.evaluate((a) => (window as unknown as { directUpload(a: unknown): Promise<string> }).directUpload(a), { ...args, ...extra })) as string;
    await p.close();
    return { uploadId, puts };
  };
  const first = await tab({ stopAfterParts: 1 });
  const resumed = await tab({ resumeUploadId: first.uploadId });
  return { uploadId: first.uploadId, firstPuts: first.puts, resumedPuts: resumed.puts };
}

async function checkFlow(t: Test, server: TestServer, sourceBytes: () => Promise<Buffer>): Promise<Run> {
  const admin = api(server.url, server.adminToken);
  const video = (await admin.json('POST', '/v1/videos', { title: 'Direct upload' })).body;
  const runResult = await uploadWithUppy(t, server, video.id);
  t.equal(runResult.resumedPuts.length, 1, 'the resumed tab sent only the part that was missing');
  const ready = await waitForVideo(admin, video.id, undefined, 240_000);
  t.equal(ready.status, 'ready', 'the video became ready');
  t.ok(ready.duration_ms >= 1900 && ready.duration_ms <= 2200, `duration ${ready.duration_ms} ms`);
  t.equal(sha256(await sourceBytes()), sha256(bytes), 'the stored source is exactly the file');
  const after = await admin.json('GET', `/v1/videos/${video.id}/multipart/${runResult.uploadId}`);
  t.equal(after.status, 409, 'a completed upload cannot be listed for more parts');
  return runResult;
}

t.test('fs backend: the same flow through signed part URLs of the node', async (t) => {
  const server = await startServer({ config: { uploads: { multipart_part_bytes: PART_BYTES } } });
  t.teardown(() => server.stop());
  const admin = api(server.url, server.adminToken);

  const flow = await checkFlow(t, server, async () => {
    const id = (await admin.json('GET', '/v1/videos?limit=1')).body.items[0].id;
    return readFile(join(server.dataDir, 'objects', 'sources', id, 'v1', 'source'));
  });
  t.ok(
    [...flow.firstPuts, ...flow.resumedPuts].every((o) => o === server.url),
    'parts went to the node',
  );

  t.test('refusals', async (t) => {
    const video = (await admin.json('POST', '/v1/videos', { title: 'refusals' })).body;
    const base = `/v1/videos/${video.id}/multipart`;
    const tooBig = await admin.json('POST', base, { filename: 'x.mp4', size: 21 * 1024 ** 3, content_type: 'video/mp4' });
    t.equal(tooBig.status, 413, 'over limits.max_upload_bytes');
    t.equal(tooBig.body.error.code, 'E_TOO_LARGE');
    t.equal((await api(server.url, null).json('POST', base, { filename: 'x.mp4', size: 10 })).status, 401, 'a token is needed');

    const created = await admin.json('POST', base, { filename: 'x.mp4', size: 10, content_type: 'video/mp4' });
    t.equal(created.status, 201);
    t.equal(created.body.parts.length, 1, 'a small file is one part');
    const partUrl = new URL(created.body.parts[0].url);
    const forged = new URL(partUrl);
    forged.searchParams.set('sig', 'A'.repeat(43));
    const refused = await fetch(forged, { method: 'PUT', body: 'x'.repeat(10) });
    t.equal(refused.status, 403, 'a part URL with a wrong signature is refused');
    const otherPart = new URL(partUrl);
    otherPart.pathname = otherPart.pathname.replace(/\/1$/, '/2');
    t.equal((await fetch(otherPart, { method: 'PUT', body: 'x' })).status, 403, 'a signature is for its own part only');

    const missing = await admin.json('POST', `${base}/${created.body.upload_id}/complete`, { parts: [{ number: 1, etag: '"abc"' }] });
    t.equal(missing.status, 400, 'completing with a part never sent');
    t.match(missing.body.error.message, /part 1 was not uploaded/);
    const put = await fetch(partUrl, { method: 'PUT', body: '0123456789' });
    t.equal(put.status, 200);
    const etag = put.headers.get('etag')!;
    t.equal(etag, `"${createHash('md5').update('0123456789').digest('hex')}"`, 'the part ETag is its MD5, as S3 gives');
    const wrong = await admin.json('POST', `${base}/${created.body.upload_id}/complete`, { parts: [{ number: 1, etag: '"0000"' }] });
    t.equal(wrong.status, 400, 'a wrong ETag');
    t.match(wrong.body.error.message, /ETag does not match/);

    t.equal((await admin.json('DELETE', `${base}/${created.body.upload_id}`)).status, 204, 'abort');
    t.equal((await admin.json('GET', `${base}/${created.body.upload_id}`)).status, 404, 'an aborted upload is gone');
    t.equal((await fetch(partUrl, { method: 'PUT', body: 'x' })).status, 404, 'its part URLs no longer take bytes');
    t.equal((await admin.json('GET', `/v1/videos/${video.id}`)).body.status, 'awaiting_upload', 'the video is back to awaiting its upload');
  });
});

t.test('Ceph RGW: parts go straight to the bucket, never through the node', { skip: noS3 }, async (t) => {
  const s3: S3TestServer = await s3Started!;
  const bucket = await s3.createBucket();
  t.teardown(() => s3.removeBucket(bucket));
  // A browser on the site's origin PUTs to the bucket: the bucket must allow it and expose ETag (README "Direct uploads").
  const cors = `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule></CORSConfiguration>`;
  await (s3.client as unknown as { makeRequestAsyncOmit(o: object, body: string, codes: number[]): Promise<unknown> }).makeRequestAsyncOmit(
    { method: 'PUT', bucketName: bucket, query: 'cors', headers: { 'Content-MD5': createHash('md5').update(cors).digest('base64') } },
    cors,
    [200],
  );
  const server = await startServer({ config: { uploads: { multipart_part_bytes: PART_BYTES } }, env: { FRAMECAST_STORAGE_URL: s3.url(bucket) } });
  t.teardown(() => server.stop());
  const admin = api(server.url, server.adminToken);

  const flow = await checkFlow(t, server, async () => {
    const id = (await admin.json('GET', '/v1/videos?limit=1')).body.items[0].id;
    const object = await s3.client.getObject(bucket, `sources/${id}/v1/source`);
    const chunks: Buffer[] = [];
    for await (const chunk of object) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  });
  const s3Origin = `http://${s3.host}:${s3.port}`;
  t.same([...new Set([...flow.firstPuts, ...flow.resumedPuts])], [s3Origin], 'every part was PUT to the bucket');
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  t.notMatch(metrics, /route="\/v1\/multipart-parts"/, 'no part request reached the node');
  t.match(metrics, /framecast_upload_bytes_total 0\n/, 'the node received no upload bytes');
});
