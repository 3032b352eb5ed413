/**
 * The built-in webhooks plugin: a receiver on 127.0.0.1 gets signed JSON POSTs for
 * video.ready and video.failed; a 500 is retried with backoff until it succeeds, the
 * delivery keeps its id across retries, and the delivery log shows what happened.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip, makeTextFile } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

const SECRET = 'webhook-test-secret';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  answered: number;
}

const received: Received[] = [];
let failuresLeft = 1;
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    const status = failuresLeft > 0 ? 500 : 200;
    if (failuresLeft > 0) failuresLeft--;
    received.push({ headers: req.headers, body, answered: status });
    res.writeHead(status).end();
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
const port = (receiver.address() as { port: number }).port;

const dir = await mkdtemp(join(tmpdir(), 'framecast-webhooks-'));
const server = await startServer({
  config: {
    plugins: [{ name: 'webhooks', config: { secret: SECRET, endpoints: [{ url: `http://127.0.0.1:${port}/hook` }], backoff_base_s: 0.3, poll_interval_ms: 100 } }],
  },
});
t.teardown(async () => {
  await server.stop();
  receiver.close();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);

function verify(r: Received): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(r.headers['framecast-signature']));
  if (!m) return false;
  const expected = createHmac('sha256', SECRET).update(`${m[1]}.${r.body}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 100));
  if (!check()) throw new Error('timed out waiting for webhooks');
}

t.test('video.ready is delivered signed, and retried after a 500', async (t) => {
  const clip = await makeClip(dir, { width: 320, height: 180, seconds: 1 });
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'Hooked up' } });
  const video = await waitForVideo(admin, up.videoId!);
  t.equal(video.status, 'ready');
  await until(() => received.some((r) => r.answered === 200));

  const [first, second] = received;
  t.equal(first!.answered, 500, 'the first attempt got a 500');
  t.equal(second!.answered, 200, 'the retry succeeded');
  for (const r of [first!, second!]) {
    t.ok(verify(r), 'the signature verifies with the shared secret');
    t.equal(r.headers['content-type'], 'application/json');
    t.equal(r.headers['framecast-event'], 'video.ready');
  }
  t.equal(first!.headers['framecast-delivery'], second!.headers['framecast-delivery'], 'the delivery id stays across retries');
  t.equal(first!.body, second!.body, 'the same body is sent again');
  const payload = JSON.parse(second!.body);
  t.equal(payload.event, 'video.ready');
  t.equal(payload.data.id, video.id, 'data is the video');
  t.equal(payload.data.status, 'ready');
  t.same(payload.data.renditions, video.renditions);

  const log = await admin.json('GET', '/plugins/webhooks/deliveries');
  t.equal(log.status, 200);
  const entry = log.body.items.find((d: { id: number }) => String(d.id) === first!.headers['framecast-delivery']);
  t.match(entry, { event: 'video.ready', status: 'delivered', attempts: 2, last_status: 200, last_error: null });
  t.equal((await admin.json('GET', '/plugins/webhooks/deliveries', undefined, null)).status, 401, 'the log needs the admin token');
});

t.test('video.failed is delivered too', async (t) => {
  const text = await makeTextFile(dir);
  const up = await tusUpload(server.url, text, { token: server.adminToken, metadata: { filename: 'notes.txt', title: 'Not a video' } });
  const video = await waitForVideo(admin, up.videoId!);
  t.equal(video.status, 'failed');
  await until(() => received.some((r) => r.headers['framecast-event'] === 'video.failed'));
  const failed = received.find((r) => r.headers['framecast-event'] === 'video.failed')!;
  t.ok(verify(failed));
  const payload = JSON.parse(failed.body);
  t.equal(payload.data.id, video.id);
  t.equal(payload.data.error.code, 'E_NOT_MEDIA');
});
