/**
 * The HTTP edge: who the client is behind a proxy, how long a client may take to send, and
 * how many connections one process holds. One node, with small limits:
 *  - a real proxy hop (a node http proxy appending X-Forwarded-For the way nginx's
 *    $proxy_add_x_forwarded_for does) in front of it; clients reach the proxy from their own
 *    loopback addresses (127.0.0.2, 127.0.0.5, …) and the proxy reaches the node from
 *    127.0.0.3, the one proxy the node trusts. A client forging X-Forwarded-For must not
 *    pass for another address: not for IP-bound playback, not for per-IP rate limits;
 *  - a JSON body that trickles past http.body_timeout_ms is cut, a tus PATCH that trickles
 *    steadily for longer is not, and one that stalls past http.upload_idle_timeout_ms is;
 *  - connections past http.max_connections are closed on arrival while the node serves on.
 */
import { request as httpRequest, Agent, createServer, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { PlaybackSigner } from '../../core/origin/signing.js';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

const SECRET = 'http-edge-test-secret';
const PROXY_ADDRESS = '127.0.0.3';
const BODY_TIMEOUT_MS = 1500;
const IDLE_TIMEOUT_MS = 1500;
const MAX_CONNECTIONS = 12;

const dir = await mkdtemp(join(tmpdir(), 'framecast-edge-'));
const server = await startServer({
  config: {
    signing: { secret: SECRET, bind_ip: true },
    http: { trust_proxy: [PROXY_ADDRESS], body_timeout_ms: BODY_TIMEOUT_MS, upload_idle_timeout_ms: IDLE_TIMEOUT_MS, max_connections: MAX_CONNECTIONS },
  },
});
const admin = api(server.url, server.adminToken);
const nodePort = Number(new URL(server.url).port);

// The proxy: few pooled connections to the node (from 127.0.0.3), X-Forwarded-For appended.
const upstream = new Agent({ keepAlive: true, maxSockets: 4, localAddress: PROXY_ADDRESS });
const proxy = createServer((req, res) => {
  const prior = req.headers['x-forwarded-for'];
  const headers = { ...req.headers, 'x-forwarded-for': prior ? `${String(prior)}, ${req.socket.remoteAddress}` : req.socket.remoteAddress };
  const out = httpRequest({ host: '127.0.0.1', port: nodePort, method: req.method, path: req.url, headers, agent: upstream }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  out.on('error', () => res.destroy());
  req.pipe(out);
});
await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const proxyPort = (proxy.address() as { port: number }).port;

t.teardown(async () => {
  proxy.close();
  upstream.destroy();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request through the proxy from the client address `from`, maybe with a forged X-Forwarded-For. */
function viaProxy(from: string, path: string, opts: { method?: string; forged?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.forged) headers['x-forwarded-for'] = opts.forged;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const req = httpRequest({ host: '127.0.0.1', port: proxyPort, localAddress: from, method: opts.method ?? 'GET', path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function withToken(url: string, token: string): string {
  const u = new URL(url, 'http://x');
  u.searchParams.set('token', token);
  return u.pathname + u.search;
}

t.test('behind a proxy, a forged X-Forwarded-For neither unlocks IP-bound playback nor escapes per-IP limits', async (t) => {
  const created = await admin.json('POST', '/v1/videos', { title: 'bound', visibility: 'private' });
  const clip = await makeClip(dir, { width: 160, height: 90, seconds: 2, audio: false });
  await tusUpload(server.url, clip, { token: server.adminToken, metadata: { video_id: created.body.id, filename: 'clip.mp4' } });
  const video = await waitForVideo(admin, created.body.id);
  t.equal(video.status, 'ready');
  const auth = { authorization: `Bearer ${server.adminToken}` };

  // The viewer at 127.0.0.2 gets a URL bound to its address, whatever it claims to be.
  const own = JSON.parse((await viaProxy('127.0.0.2', `/v1/videos/${video.id}`, { forged: '127.0.0.9', headers: auth })).body);
  t.equal((await viaProxy('127.0.0.2', own.playback.hls_url, { forged: '127.0.0.9' })).status, 200, 'its own URL plays through the proxy');
  t.equal((await viaProxy('127.0.0.9', own.playback.hls_url)).status, 403, 'the address it forged cannot use that URL');

  // A victim's URL (bound to 127.0.0.5) in the hands of 127.0.0.2, which claims 127.0.0.5.
  const victims = withToken(video.playback.hls_url, new PlaybackSigner(SECRET, { bindIp: true }).token(video.id, { ip: '127.0.0.5' }));
  t.equal((await viaProxy('127.0.0.2', victims, { forged: '127.0.0.5' })).status, 403, 'refused for the spoofed address');
  t.equal((await viaProxy('127.0.0.5', victims)).status, 200, 'plays for the victim through the same proxy');

  // Per-IP telemetry limit (burst 40): a fresh forged address per batch still counts as 127.0.0.2.
  const batches = await Promise.all(
    Array.from({ length: 60 }, (_, i) => viaProxy('127.0.0.2', '/v1/events', { method: 'POST', body: '{"events": []}', forged: `198.51.100.${i + 1}` })),
  );
  const statuses = batches.map((b) => b.status);
  t.ok(statuses.includes(429), 'the real client is limited despite 60 different forged addresses');
  t.same([...new Set(statuses)].sort(), [202, 429], 'nothing else is answered');
  t.equal((await viaProxy('127.0.0.4', '/v1/events', { method: 'POST', body: '{"events": []}' })).status, 202, 'another real client is not');
});

/** A raw connection to the node; collects what it answers. */
function rawConnection(): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(nodePort, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes `bytes` a few at a time, every `everyMs`, while the connection is open; resolves with how many went. */
async function trickle(socket: Socket, bytes: Buffer, chunk: number, everyMs: number): Promise<number> {
  let sent = 0;
  while (sent < bytes.length && !socket.destroyed) {
    socket.write(bytes.subarray(sent, sent + chunk));
    sent += Math.min(chunk, bytes.length - sent);
    await sleep(everyMs);
  }
  return sent;
}

t.test('a JSON body trickling past http.body_timeout_ms is cut', async (t) => {
  const body = Buffer.from(JSON.stringify({ title: 'slow '.repeat(8) }));
  const conn = await rawConnection();
  conn.socket.write(
    `POST /v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${server.adminToken}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
  );
  // 2 bytes every 200 ms: the whole body would take ~4.5 s, three times the deadline.
  const sent = await trickle(conn.socket, body, 2, 200);
  await Promise.race([conn.closed, sleep(2000)]);
  t.ok(sent < body.length, `the node stopped reading before the body was complete (${sent} of ${body.length} bytes)`);
  t.match(conn.received(), /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout');
  t.ok(conn.socket.destroyed || conn.socket.readableEnded, 'and the connection is closed');
  conn.socket.destroy();
});

/** Creates a tus upload of `length` bytes; returns its path. */
async function createUpload(length: number): Promise<string> {
  const r = await fetch(`${server.url}/v1/uploads`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${server.adminToken}`,
      'tus-resumable': '1.0.0',
      'upload-length': String(length),
      'upload-metadata': `filename ${Buffer.from('slow.mp4').toString('base64')}`,
    },
  });
  if (r.status !== 201) throw new Error(`tus creation answered ${r.status}: ${await r.text()}`);
  return new URL(r.headers.get('location')!, server.url).pathname;
}

async function uploadOffset(path: string): Promise<number> {
  const r = await fetch(server.url + path, { method: 'HEAD', headers: { authorization: `Bearer ${server.adminToken}`, 'tus-resumable': '1.0.0' } });
  return Number(r.headers.get('upload-offset'));
}

function patchHead(path: string, length: number): string {
  return `PATCH ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${server.adminToken}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: ${length}\r\n\r\n`;
}

t.test('a tus PATCH trickling steadily outlives the JSON deadline; one that stalls past the idle timeout is cut', async (t) => {
  const part = Buffer.alloc(12 * 1024, 7);
  // Steady: a 1 KiB chunk every 300 ms for ~3.6 s, more than twice http.body_timeout_ms.
  const steadyPath = await createUpload(part.length * 2);
  const steady = await rawConnection();
  steady.socket.write(patchHead(steadyPath, part.length));
  const started = Date.now();
  await trickle(steady.socket, part, 1024, 300);
  t.ok(Date.now() - started > 2 * BODY_TIMEOUT_MS, 'the PATCH took longer than the JSON deadline');
  await Promise.race([steady.closed, sleep(2000), new Promise((r) => steady.socket.once('data', r))]);
  t.match(steady.received(), /^HTTP\/1\.1 204 /, 'answered 204');
  t.match(steady.received(), new RegExp(`upload-offset: ${part.length}\\r\\n`, 'i'), 'with every byte stored');
  steady.socket.destroy();

  // Stalled: half the part, then nothing.
  const stalledPath = await createUpload(part.length);
  const stalled = await rawConnection();
  stalled.socket.write(patchHead(stalledPath, part.length));
  stalled.socket.write(part.subarray(0, part.length / 2));
  const cut = await Promise.race([stalled.closed.then(() => true), sleep(IDLE_TIMEOUT_MS + 6000).then(() => false)]);
  t.ok(cut, 'the node closed the stalled connection');
  t.notMatch(stalled.received(), /^HTTP\/1\.1 2/, 'without accepting the PATCH');
  stalled.socket.destroy();
  t.equal(await uploadOffset(stalledPath), part.length / 2, 'the bytes that arrived are kept: the client can resume');
});

t.test('connections past http.max_connections are closed on arrival while the node keeps serving', async (t) => {
  const held: Awaited<ReturnType<typeof rawConnection>>[] = [];
  const ping = async (conn: Awaited<ReturnType<typeof rawConnection>>) => {
    const before = conn.received().length;
    conn.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await Promise.race([conn.closed, new Promise<void>((r) => conn.socket.once('data', () => r()))]);
    await sleep(20);
    return conn.received().slice(before);
  };
  let refused: Awaited<ReturnType<typeof rawConnection>> | undefined;
  // The test's own keep-alive connections (fetch, the proxy) count too: open until refused.
  for (let i = 0; i < MAX_CONNECTIONS + 10 && !refused; i++) {
    const conn = await rawConnection();
    const answer = await ping(conn);
    if (/^HTTP\/1\.1 200 /.test(answer)) held.push(conn);
    else refused = conn;
  }
  t.ok(refused, 'a connection over the cap was refused');
  t.ok(held.length <= MAX_CONNECTIONS, `the node held at most ${MAX_CONNECTIONS} (${held.length} held by the test)`);
  t.equal(refused?.received(), '', 'the refused connection got no answer');
  t.match(await ping(held[0]!), /^HTTP\/1\.1 200 /, 'connections within the cap are still served');
  held.pop()!.socket.destroy();
  await sleep(200);
  const after = await rawConnection();
  t.match(await ping(after), /^HTTP\/1\.1 200 /, 'a slot freed: a new connection is served');
  after.socket.destroy();
  for (const conn of held) conn.socket.destroy();
  await sleep(200);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  t.match(metrics, /^framecast_http_connections_dropped_total [1-9]/m, 'the refusals are counted');
});

t.test('a hot media URL answers exactly as the first time, and a delete still takes effect within the lookup TTL', async (t) => {
  const created = await admin.json('POST', '/v1/videos', { title: 'hot', visibility: 'public' });
  const clip = await makeClip(dir, { width: 160, height: 90, seconds: 2, audio: false, name: 'hot.mp4' });
  await tusUpload(server.url, clip, { token: server.adminToken, metadata: { video_id: created.body.id, filename: 'hot.mp4' } });
  const video = await waitForVideo(admin, created.body.id);
  const url = server.url + video.playback.hls_url;
  const answer = async (headers: Record<string, string>, query = '') => {
    const r = await fetch(url + query, { headers });
    const all: Record<string, string> = {};
    r.headers.forEach((value, name) => (all[name] = value));
    const kept = Object.fromEntries(Object.entries(all).filter(([name]) => name !== 'date' && name !== 'keep-alive' && name !== 'connection'));
    return { status: r.status, headers: kept, body: Buffer.from(await r.arrayBuffer()).toString('base64') };
  };
  for (const [i, encoding] of ['', 'gzip', 'br;q=1, gzip;q=0.5', 'identity'].entries()) {
    const headers: Record<string, string> = { 'accept-encoding': encoding };
    // A URL of its own per case: the first answer takes the full path, the second the prepared one.
    const first = await answer(headers, `?case=${i}`);
    const again = await answer(headers, `?case=${i}`);
    t.same(again, first, `the same status, headers and bytes for Accept-Encoding "${encoding}"`);
    const revalidated = await answer({ ...headers, 'if-none-match': first.headers.etag! });
    t.equal(revalidated.status, 304, 'If-None-Match on a hot URL: 304');
  }
  for (const encoding of ['', 'gzip']) {
    const head = await fetch(url, { method: 'HEAD', headers: { 'accept-encoding': encoding } });
    t.equal(head.headers.get('content-length'), (await answer({ 'accept-encoding': encoding })).headers['content-length'], `HEAD agrees (Accept-Encoding "${encoding}")`);
  }

  await admin.json('DELETE', `/v1/videos/${video.id}`);
  // origin.lookup_ttl_ms is 1 s by default: gone within it (plus scheduling slack), hot or not.
  await sleep(1500);
  t.equal((await fetch(url)).status, 404, 'the deleted video is gone');
});
