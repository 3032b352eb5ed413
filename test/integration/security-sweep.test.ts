/**
 * Security sweep through a real node: every route that is not public refuses anonymous
 * callers (401) and tokens without the right scope (403), found by walking the router's own
 * layers so a new route cannot be forgotten; crafted traversal paths never reach a file;
 * oversize JSON, malformed tus headers, bad playback tokens and wrong RTMP keys are refused;
 * every answer carries nosniff and pages carry their Content-Security-Policy.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Middleware } from 'koa';
import t from 'tap';
import { loadConfig } from '../../config/load.js';
import { closeServices, openServices } from '../../core/app.js';
import { createKoaApp } from '../../core/http/server.js';
import { createLogger } from '../../core/logger.js';
import { PlaybackSigner } from '../../core/origin/signing.js';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeIngestClip, pushRtmp, sleep } from '../helpers/live.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

const SECRET = 'security-sweep-signing-secret';
const MARKER = `framecast-secret-marker-${Date.now()}`;

const dir = await mkdtemp(join(tmpdir(), 'framecast-sweep-'));
const server = await startServer({ config: { signing: { secret: SECRET }, live: { bad_key_limit: 2 } } });
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);
const readToken = (await admin.json('POST', '/v1/tokens', { name: 'reader', scopes: ['read'] })).body.token as string;
const uploadToken = (await admin.json('POST', '/v1/tokens', { name: 'uploader', scopes: ['upload'] })).body.token as string;

/**
 * Routes anyone may call (API.md "Auth"): reads, telemetry, pages, assets, live media,
 * health, metrics and the API description. Every other router layer needs a token.
 */
const PUBLIC = new Set([
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /openapi.json',
  'GET /',
  'GET /upload',
  'GET /watch/:id',
  'GET /embed/:id',
  'GET /oembed',
  'GET /assets/{*path}',
  'GET /live/:id',
  'GET /live/:id/{*path}',
  'OPTIONS /live/:id/{*path}',
  'GET /v1/videos',
  'GET /v1/videos/:id',
  'GET /v1/videos/:id/manifest',
  'GET /v1/videos/:id/stats',
  'GET /v1/videos/:id/related',
  'GET /v1/videos/:id/captions',
  'GET /v1/videos/:id/captions/:caption_id',
  'GET /v1/search',
  'GET /v1/feed',
  'GET /v1/live',
  'GET /v1/live/:id',
  'POST /v1/events',
]);

/**
 * Routes with a credential of their own instead of an API token: WHIP (the stream key as
 * bearer; the session URL is the capability; preflights are open) and the runners' API
 * (registration and runner tokens). API tokens never get in: they are refused (401, or 404 /
 * 429 / 400 as the route's own checks answer), and preflights answer 204.
 */
const OWN_CREDENTIAL = /^(POST|DELETE|OPTIONS) \/v1\/(live\/:id\/whip|runner\/)/;

/** Routes for the admin scope only: an `upload` token is refused too. */
const ADMIN_ONLY = new Set(['GET /v1/jobs', 'POST /v1/jobs/:id/retry', 'POST /v1/tokens', 'GET /v1/tokens', 'DELETE /v1/tokens/:id', 'GET /v1/origin/stats']);

/** `METHOD path` of every router layer (HEAD is the GET's twin), from the Koa app itself. */
async function routerRoutes(): Promise<string[]> {
  const config = loadConfig({ overrides: { data_dir: join(dir, 'router-node'), admin_token: 'router-walk' }, env: {} });
  const services = await openServices(config, createLogger('silent'), 'http');
  try {
    const app = createKoaApp(services);
    const dispatch = app.middleware.find((m) => 'router' in m) as (Middleware & { router: { stack: { path: string; methods: string[] }[] } }) | undefined;
    if (!dispatch) throw new Error('no router in the Koa app');
    const routes = new Set<string>();
    for (const layer of dispatch.router.stack) {
      for (const method of layer.methods) if (!(method === 'HEAD' && layer.methods.includes('GET'))) routes.add(`${method} ${layer.path}`);
    }
    return [...routes].sort();
  } finally {
    await closeServices(services);
  }
}

/** A concrete URL for a route pattern: ids that look valid, any file. */
function concrete(path: string): string {
  return path.replace(/\{\*[A-Za-z0-9_]+\}/g, 'x').replace(/:[A-Za-z0-9_]+/g, 'AAAAAAAAAAAA');
}

async function call(method: string, path: string, token: string | null): Promise<{ status: number; code: string | undefined }> {
  const withBody = method === 'POST' || method === 'PATCH' || method === 'PUT';
  const r = await api(server.url, token).json(method, path, withBody ? { title: 'x' } : undefined);
  return { status: r.status, code: r.body?.error?.code };
}

t.test('every route that is not public wants a token, and the right scope', async (t) => {
  const routes = await routerRoutes();
  for (const known of [...PUBLIC, ...ADMIN_ONLY]) t.ok(routes.includes(known), `${known} is still a route (else update the sweep)`);
  const own = routes.filter((r) => OWN_CREDENTIAL.test(r));
  t.ok(own.length >= 8, `${own.length} routes with their own credential found`);
  for (const route of own) {
    const [method, pattern] = route.split(' ') as [string, string];
    for (const token of [null, 'fc_not-a-real-token', readToken, uploadToken]) {
      const { status } = await call(method, concrete(pattern), token);
      if (method === 'OPTIONS') t.equal(status, 204, `${route} is an open preflight`);
      else t.ok([400, 401, 404, 429].includes(status), `${route} refuses ${token ? 'an API token' : 'a call without its credential'} (${status})`);
    }
  }
  const guarded = routes.filter((r) => !PUBLIC.has(r) && !OWN_CREDENTIAL.test(r));
  t.ok(guarded.length >= 12, `${guarded.length} guarded routes found`);
  for (const route of guarded) {
    const [method, pattern] = route.split(' ') as [string, string];
    const path = concrete(pattern);
    t.same(await call(method, path, null), { status: 401, code: 'E_UNAUTHORIZED' }, `${route} without a token`);
    t.same(await call(method, path, 'fc_not-a-real-token'), { status: 401, code: 'E_UNAUTHORIZED' }, `${route} with an unknown token`);
    t.same(await call(method, path, readToken), { status: 403, code: 'E_FORBIDDEN' }, `${route} with a read token`);
    if (ADMIN_ONLY.has(route)) t.same(await call(method, path, uploadToken), { status: 403, code: 'E_FORBIDDEN' }, `${route} with an upload token`);
  }
  // tus, served beside Koa, guards every method the same way.
  for (const method of ['POST', 'PATCH', 'HEAD', 'DELETE']) {
    const path = method === 'POST' ? '/v1/uploads' : '/v1/uploads/AAAAAAAAAAAA';
    const headers = { 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' };
    const anonymous = await fetch(server.url + path, { method, headers });
    t.equal(anonymous.status, 401, `tus ${method} without a token`);
    const reader = await fetch(server.url + path, { method, headers: { ...headers, authorization: `Bearer ${readToken}` } });
    t.equal(reader.status, 403, `tus ${method} with a read token`);
  }
});

/**
 * One raw GET with the path exactly as written (fetch would normalise dot segments) and
 * only the given headers (fetch turns a conditional request into a no-cache one).
 */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const u = new URL(server.url);
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('crafted paths on /media, /live, /v1 and /assets never reach a file', async (t) => {
  await writeFile(join(server.dataDir, 'marker.txt'), MARKER);
  await writeFile(join(server.dataDir, 'objects-marker.m3u8'), `#EXTM3U\n# ${MARKER}\n`);
  const clip = await makeClip(dir, { width: 320, height: 180, seconds: 1, name: 'traversal.mp4' });
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'traversal.mp4', title: 'Traversal' } });
  const video = await waitForVideo(admin, up.videoId!);
  t.equal(video.status, 'ready');
  const live = (await admin.json('POST', '/v1/live', { title: 'Traversal' })).body.id as string;
  const v = `/media/${video.id}/v${video.version}`;
  const escapes = [
    '../../../../marker.txt',
    '..%2f..%2f..%2f..%2fmarker.txt',
    '..%2F..%2F..%2F..%2Fobjects-marker.m3u8',
    '%2e%2e/%2e%2e/%2e%2e/%2e%2e/marker.txt',
    '%2e%2e%2f%2e%2e%2f%2e%2e%2fmarker.txt',
    '%252e%252e%252f%252e%252e%252fmarker.txt',
    '..\\..\\..\\..\\marker.txt',
    '..%5c..%5c..%5c..%5cmarker.txt',
    '%c0%ae%c0%ae/%c0%ae%c0%ae/%c0%ae%c0%ae/marker.txt',
    '%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afmarker.txt',
    '..%c0%af..%c0%af..%c0%afmarker.txt',
    'master.m3u8%00.jpg',
    '..%00/..%00/marker.txt',
    '....//....//....//marker.txt',
    '..;/..;/..;/marker.txt',
    `${encodeURIComponent(join(server.dataDir, 'marker.txt'))}`,
    `/${join(server.dataDir, 'objects-marker.m3u8')}`,
    '%2fetc%2fpasswd',
    '/etc/passwd',
    '240p/../../../../../../marker.txt',
  ];
  const paths = [
    ...escapes.map((e) => `${v}/${e}`),
    ...escapes.slice(0, 12).map((e) => `/live/${live}/${e}`),
    `/media/..%2f..%2f..%2f/v1/master.m3u8`,
    `/media/${video.id}/..%2f..%2f/master.m3u8`,
    `/media/${video.id}/v1%2f..%2f..%2f/objects-marker.m3u8`,
    `/media//${join(server.dataDir, 'marker.txt')}`,
    `/media/%2e%2e/%2e%2e/%2e%2e/marker.txt`,
    `/live/..%2f..%2f..%2f/marker.m3u8`,
    `/live/%2e%2e/%2e%2e/marker.txt`,
    `/v1/videos/..%2f..%2f..%2fmarker.txt`,
    `/v1/videos/%2e%2e/%2e%2e/marker.txt/manifest`,
    `/v1/videos/..%5c..%5cmarker.txt`,
    `/v1/live/..%2f..%2fmarker.txt`,
    `/v1/videos/${video.id}%00/manifest`,
    `/assets/..%2f..%2f..%2fpackage.json`,
    `/assets/%2e%2e/%2e%2e/package.json`,
    `/assets/vendor/..%2f..%2f..%2fpackage.json`,
    `/assets/..\\..\\package.json`,
  ];
  t.ok(paths.length >= 30, `${paths.length} crafted paths`);
  for (const path of paths) {
    const r = await rawGet(path);
    t.ok(r.status === 400 || r.status === 404, `${path} → ${r.status}`);
    t.notOk(r.body.includes(MARKER), `${path} does not leak the marker`);
    t.notOk(r.body.includes('root:x:0:0') || r.body.includes('"name": "framecast'), `${path} does not leak system or repo files`);
  }
  t.equal((await rawGet(`${v}/master.m3u8`)).status, 200, 'the real playlist still plays');
});

t.test('oversize JSON bodies are refused with 413 E_TOO_LARGE', async (t) => {
  // The node answers from the declared length, before the body: the client sends its headers,
  // reads the answer, and never has to push 2 MiB into a connection the node is closing.
  const declared = 2 * 1024 * 1024;
  for (const [path, token] of [
    ['/v1/videos', server.adminToken],
    ['/v1/events', null],
  ] as const) {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(server.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(declared), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body });
          req.destroy();
        });
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    t.equal(answer.status, 413, `${path}: 413`);
    t.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, 'E_TOO_LARGE');
  }
  t.equal((await admin.json('GET', '/v1/videos')).status, 200, 'the node still answers');
});

t.test('malformed tus headers are refused as the tus protocol says, with API.md error bodies', async (t) => {
  const auth = { authorization: `Bearer ${server.adminToken}` };
  // The status is the tus protocol's; the body is API.md's, with the code that status means.
  const codes: Record<number, string> = { 400: 'E_BAD_REQUEST', 404: 'E_NOT_FOUND', 409: 'E_CONFLICT', 412: 'E_BAD_REQUEST' };
  const refused = async (r: Response, what: string, status: number) => {
    t.equal(r.status, status, `${what}: ${status}`);
    t.match(r.headers.get('content-type'), /^application\/json/, `${what}: a JSON body`);
    const body = (await r.json()) as { error?: { code?: string; message?: string } };
    t.equal(body.error?.code, codes[status], `${what}: ${codes[status]}`);
    t.ok(body.error?.message, `${what}: says why`);
  };
  const meta = `filename ${Buffer.from('clip.mp4').toString('base64')}`;
  const post = (headers: Record<string, string>) => fetch(`${server.url}/v1/uploads`, { method: 'POST', headers: { ...auth, ...headers } });
  for (const [name, headers, status] of [
    ['no Upload-Length', { 'tus-resumable': '1.0.0', 'upload-metadata': meta }, 400],
    ['non-numeric Upload-Length', { 'tus-resumable': '1.0.0', 'upload-length': 'abc', 'upload-metadata': meta }, 400],
    ['negative Upload-Length', { 'tus-resumable': '1.0.0', 'upload-length': '-5', 'upload-metadata': meta }, 400],
    ['Upload-Length with Upload-Defer-Length', { 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-defer-length': '1', 'upload-metadata': meta }, 400],
    ['Upload-Metadata without base64', { 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-metadata': 'filename clip.mp4!!' }, 400],
    ['Upload-Metadata with three parts', { 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-metadata': 'filename Y2xpcA== extra' }, 400],
    ['Upload-Metadata with a repeated key', { 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-metadata': `${meta},${meta}` }, 400],
    // tus 1.0.0: an unsupported (here: absent) protocol version is 412 Precondition Failed.
    ['no Tus-Resumable', { 'upload-length': '10', 'upload-metadata': meta }, 412],
    ['an unknown Tus-Resumable', { 'tus-resumable': '0.9.9', 'upload-length': '10', 'upload-metadata': meta }, 412],
  ] as const) {
    await refused(await post(headers), `POST with ${name}`, status);
  }

  const created = await post({ 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-metadata': meta });
  t.equal(created.status, 201);
  const location = new URL(created.headers.get('location')!, server.url).toString();
  const patch = (headers: Record<string, string>) =>
    fetch(location, { method: 'PATCH', headers: { ...auth, 'tus-resumable': '1.0.0', 'content-type': 'application/offset+octet-stream', ...headers }, body: Buffer.alloc(5) });
  for (const [name, headers, status] of [
    ['non-numeric Upload-Offset', { 'upload-offset': 'abc' }, 400],
    ['negative Upload-Offset', { 'upload-offset': '-1' }, 400],
    // The offset must equal the upload's current offset: a conflict otherwise.
    ['a wrong Upload-Offset', { 'upload-offset': '3' }, 409],
    ['no Tus-Resumable', { 'upload-offset': '0', 'tus-resumable': '' }, 412],
    ['a wrong Content-Type', { 'upload-offset': '0', 'content-type': 'application/json' }, 400],
  ] as const) {
    await refused(await patch(headers as Record<string, string>), `PATCH with ${name}`, status);
  }
  const unknown = await fetch(`${server.url}/v1/uploads/0123456789abcdef0123456789abcdef`, {
    method: 'PATCH',
    headers: { ...auth, 'tus-resumable': '1.0.0', 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
    body: Buffer.alloc(5),
  });
  await refused(unknown, 'PATCH of an unknown upload', 404);
  const head = await fetch(location, { method: 'HEAD', headers: { ...auth, 'tus-resumable': '1.0.0' } });
  t.equal(head.headers.get('upload-offset'), '0', 'no refused PATCH moved the offset');
  t.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the node is still up');
});

t.test('tampered and expired playback tokens get 403', async (t) => {
  const created = await admin.json('POST', '/v1/videos', { title: 'Private', visibility: 'private' });
  const clip = await makeClip(dir, { width: 320, height: 180, seconds: 1, name: 'private.mp4' });
  await tusUpload(server.url, clip, { token: server.adminToken, metadata: { video_id: created.body.id, filename: 'private.mp4' } });
  const video = await waitForVideo(admin, created.body.id);
  t.equal(video.status, 'ready');
  const signed = new URL(video.playback.hls_url, server.url);
  const token = signed.searchParams.get('token')!;
  const [exp, mac] = token.split('.') as [string, string];
  const expired = new PlaybackSigner(SECRET).token(video.id, {}, Math.floor(Date.now() / 1000) - 1);
  for (const [name, bad] of [
    ['tampered', `${exp}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`],
    ['expired', expired],
  ] as const) {
    signed.searchParams.set('token', bad);
    const r = await fetch(signed);
    t.equal(r.status, 403, `${name} token`);
    t.equal(((await r.json()) as { error: { code: string } }).error.code, 'E_FORBIDDEN');
  }
  signed.searchParams.set('token', token);
  t.equal((await fetch(signed)).status, 200, 'the real token plays');
});

t.test('wrong RTMP keys are refused, and an address that keeps guessing is refused outright', async (t) => {
  const created = await admin.json('POST', '/v1/live', { title: 'Guessed' });
  const { id, rtmp_url: rtmpUrl, stream_key: key } = created.body as { id: string; rtmp_url: string; stream_key: string };
  const clip = await makeIngestClip(dir, { seconds: 2, width: 320, height: 180 });
  // live.bad_key_limit is 2: the third wrong key within a minute blocks this address.
  for (let i = 0; i < 3; i++) {
    const push = pushRtmp(rtmpUrl, `wrong-key-${i}`, clip);
    t.not(await push.exited, 0, `wrong key ${i + 1} refused`);
  }
  const right = pushRtmp(rtmpUrl, key, clip);
  t.not(await right.exited, 0, 'even the right key is refused from the blocked address');
  await sleep(500);
  t.equal((await admin.json('GET', `/v1/live/${id}`)).body.status, 'idle', 'the live never started');
  t.match(server.logs(), /"blocked":true/, 'the node says the address is blocked');
});

t.test('security headers: nosniff everywhere, a policy on pages, framing only for the embed', async (t) => {
  const video = (await admin.json('GET', '/v1/videos')).body.items[0] as { id: string };
  for (const path of ['/v1/videos', '/v1/videos/nope', '/healthz', '/openapi.json', '/assets/nope.js', `/media/${video.id}/v1/master.m3u8`, '/media/nope/v1/x.m3u8', '/v1/uploads']) {
    const r = await fetch(server.url + path, path === '/v1/uploads' ? { method: 'OPTIONS' } : {});
    t.equal(r.headers.get('x-content-type-options'), 'nosniff', `${path}: nosniff`);
    t.ok(r.headers.get('referrer-policy'), `${path}: Referrer-Policy`);
  }
  const live = (await admin.json('POST', '/v1/live', { title: 'Headers' })).body.id as string;
  for (const path of ['/', '/upload', `/watch/${video.id}`, `/live/${live}`]) {
    const r = await fetch(server.url + path);
    t.equal(r.status, 200);
    const csp = r.headers.get('content-security-policy') ?? '';
    t.match(csp, /default-src 'self'/, `${path}: CSP`);
    t.match(csp, /script-src 'self'(;|$)/, `${path}: no inline scripts`);
    t.match(csp, /worker-src 'self' blob:/, `${path}: hls.js workers`);
    t.match(csp, /frame-ancestors 'none'/, `${path}: not framable`);
    t.equal(r.headers.get('x-frame-options'), 'DENY');
    t.equal(r.headers.get('x-content-type-options'), 'nosniff');
    t.notMatch(await r.text(), /<script(?![^>]*\ssrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i, `${path}: no inline script, style or handler`);
  }
  const shown = (await admin.json('POST', '/v1/videos', { title: 'Embedded', visibility: 'public' })).body.id as string;
  for (const path of [`/embed/${shown}`, `/watch/${shown}?embed=1`]) {
    const embed = await fetch(server.url + path);
    t.match(embed.headers.get('content-security-policy') ?? '', /frame-ancestors \*/, `${path}: the embed player may be framed`);
    t.equal(embed.headers.get('x-frame-options'), null);
  }
  // The private video made above: without its signed URL, this site alone may frame it.
  const listed = (await admin.json('GET', '/v1/videos?limit=100')).body.items as { id: string; visibility: string }[];
  const hidden = await fetch(`${server.url}/embed/${listed.find((v) => v.visibility === 'private')!.id}`);
  t.match(hidden.headers.get('content-security-policy') ?? '', /frame-ancestors 'self'$/, "a private video's embed without its signed URL");
  const cached = await rawGet('/', { 'if-none-match': (await fetch(`${server.url}/`)).headers.get('etag')! });
  t.equal(cached.status, 304);
  t.match(cached.headers['content-security-policy'] ?? '', /frame-ancestors 'none'/, 'a revalidated page keeps its policy');
});
