/**
 * Restreaming and live posters through a real node: a live carrying two targets, a local
 * RTMP receiver (`ffmpeg -listen 1`) that gets a decodable copy of the ingest, and a dead
 * address that is retried and reported as failed while the live and the other target go
 * on; target keys never appear in full in the API or the logs. The live's poster is
 * refreshed while it is on air.
 */
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { liveFixture, pushRtmp, sleep, waitForLive } from '../helpers/live.js';
import { FFMPEG, FFPROBE } from '../helpers/media-fixtures.js';
import { freePort } from '../helpers/server.js';

const run = promisify(execFile);
const { server, admin, dir, clip } = await liveFixture(t, 2, { clipSeconds: 14, live: { poster_interval_s: 2 } });

const RECEIVER_KEY = 'receiver-key-0123456789abcdef';
const DEAD_KEY = 'dead-target-key-0123456789abcdef';

t.test('a live is copied to a receiving target, a dead one is retried and reported, the poster refreshes', async (t) => {
  const receiverPort = await freePort();
  const deadPort = await freePort();
  const received = join(dir, 'received.flv');
  const receiver = spawn(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-listen', '1', '-i', `rtmp://127.0.0.1:${receiverPort}/app/${RECEIVER_KEY}`, '-c', 'copy', '-y', received], { stdio: 'ignore' });
  const receiverDone = new Promise<number | null>((r) => receiver.once('exit', (code) => r(code)));
  t.teardown(() => void receiver.kill('SIGKILL'));

  const bad = await admin.json('POST', '/v1/live', { title: 'x', restream: [{ url: 'http://example.com/x' }] });
  t.equal(bad.status, 400, 'only rtmp(s) targets are taken');

  const created = await admin.json('POST', '/v1/live', { title: 'Restreamed', record: false, restream: [{ url: `rtmp://127.0.0.1:${deadPort}/app/${DEAD_KEY}` }] });
  t.equal(created.status, 201);
  const id = created.body.id as string;
  t.same(created.body.restream.map((r: any) => [r.url, r.state]), [[`rtmp://127.0.0.1:${deadPort}/app/…cdef`, 'idle']], 'the key is masked');

  // A second target added through PATCH before going on air.
  const patched = await admin.json('PATCH', `/v1/live/${id}`, {
    restream: [{ url: `rtmp://127.0.0.1:${deadPort}/app/${DEAD_KEY}` }, { url: `rtmp://127.0.0.1:${receiverPort}/app/${RECEIVER_KEY}` }],
  });
  t.equal(patched.status, 200);
  t.equal(patched.body.restream.length, 2);
  t.equal(patched.body.restream[0].id, created.body.restream[0].id, 'an unchanged target keeps its id');
  const [deadId, receiverId] = patched.body.restream.map((r: any) => r.id);

  const push = pushRtmp(created.body.rtmp_url, created.body.stream_key, clip);
  // The dead target alternates between failed (backing off) and connecting: note a failure whenever it shows.
  let failure: any;
  const onAir = await waitForLive(admin, id, (l) => {
    const byId = new Map<string, any>(l.restream.map((r: any) => [r.id, r]));
    if (byId.get(deadId)?.state === 'failed') failure ??= byId.get(deadId);
    return l.status === 'live' && l.publishing && byId.get(receiverId)?.state === 'live' && failure !== undefined;
  });
  t.ok(failure.reason, `the dead target is reported failed, with why: ${failure.reason}`);
  t.notOk(failure.reason.includes(DEAD_KEY), 'the reason does not hold the key');
  t.equal(onAir.publishing, true, 'the live goes on');
  const retried = await waitForLive(admin, id, (l) => l.restream.find((r: any) => r.id === deadId)?.attempts >= 2);
  t.ok(retried.status === 'live', 'the failed target is retried while the live is on air');
  t.equal(retried.restream.find((r: any) => r.id === receiverId).state, 'live', 'the other target is not disturbed');

  const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.adminToken}` } })).text();
  t.match(metrics, new RegExp(`framecast_live_restream_target_state\\{live_id="${id}",target="${receiverId}",state="live"\\} 1`));
  t.match(metrics, /framecast_live_restream_failures_total \d+/);

  // The poster appears and changes while on air (testsrc2 moves).
  const posterUrl = server.url + onAir.playback.poster_url;
  let first: Buffer | undefined;
  for (let i = 0; i < 100 && !first; i++) {
    const r = await fetch(posterUrl);
    if (r.status === 200) {
      t.equal(r.headers.get('content-type'), 'image/jpeg');
      t.match(r.headers.get('cache-control'), /max-age=1\b/);
      first = Buffer.from(await r.arrayBuffer());
    } else await sleep(200);
  }
  t.ok(first && first[0] === 0xff && first[1] === 0xd8, 'the poster is a JPEG');
  let changed = false;
  for (let i = 0; i < 60 && !changed; i++) {
    await sleep(250);
    const again = Buffer.from(await (await fetch(posterUrl)).arrayBuffer());
    changed = again.length > 0 && !again.equals(first!);
  }
  t.ok(changed, 'the poster is refreshed');

  t.equal(await push.exited, 0);
  t.equal(await receiverDone, 0, 'the receiver saw the stream end cleanly');
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_name,width,height:format=duration', '-of', 'json', received]);
  const probe = JSON.parse(stdout);
  t.ok(probe.streams.some((s: any) => s.codec_name === 'h264' && s.width === 640 && s.height === 360), 'the copy is the H.264 ingest itself');
  t.ok(probe.streams.some((s: any) => s.codec_name === 'aac'), 'with its audio');
  t.ok(Number(probe.format.duration) >= 8, `the receiver got ${probe.format.duration} s`);
  await run(FFMPEG, ['-v', 'error', '-xerror', '-i', received, '-f', 'null', '-']);
  t.pass('the received stream decodes without errors');

  const ended = await waitForLive(admin, id, (l) => l.status === 'ended', 60_000);
  t.ok(ended.restream.every((r: any) => r.state === 'idle'), 'targets stop with the live');
  const logs = server.logs();
  t.notOk(logs.includes(RECEIVER_KEY) || logs.includes(DEAD_KEY), 'target keys never reach the logs');
  t.notOk(JSON.stringify(ended).includes(DEAD_KEY), 'nor the API');
});
