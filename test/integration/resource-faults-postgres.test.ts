/**
 * PostgreSQL gone and back: the node reaches the real server through a TCP proxy that the
 * test cuts (every connection reset, new ones refused) and restores. Meanwhile /readyz
 * answers 503 naming `db` and the API 503 E_UNAVAILABLE; afterwards both recover on their
 * own, with the same processes (the pool drops its dead clients and connects again).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { mediaProcess } from '../helpers/crash.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { createTestDatabase, postgresUnavailable } from '../helpers/postgres.js';
import { eventually, readyz } from '../helpers/readiness.js';
import { startServer } from '../helpers/server.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const unavailable = await postgresUnavailable();

t.test('PostgreSQL cut off and back', { skip: unavailable }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'framecast-pg-faults-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const database = await createTestDatabase();
  t.teardown(() => database.drop());
  const target = new URL(database.url);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  t.teardown(() => proxy.close());
  const server = await startServer({ env: { FRAMECAST_DB_URL: proxy.through(database.url) } });
  t.teardown(() => server.stop());
  const admin = api(server.url, server.adminToken);
  const mediaPid = await mediaProcess(server);

  const before = await admin.json('POST', '/v1/videos', { title: 'made before the cut' });
  t.equal(before.status, 201);

  await proxy.cut();
  t.same(
    await eventually(() => readyz(server), (r) => r.status === 503, 'still ready without its database'),
    { status: 503, body: { status: 'unavailable', missing: ['db'] } },
  );
  const read = await admin.json('GET', '/v1/videos');
  t.equal(read.status, 503, 'reads answer 503, not 500');
  t.match(read.body, { error: { code: 'E_UNAVAILABLE', message: /database/ } });
  t.match(await admin.json('POST', '/v1/videos', { title: 'during the cut' }), { status: 503, body: { error: { code: 'E_UNAVAILABLE' } } });
  const upload = await fetch(`${server.url}/v1/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminToken}`, 'tus-resumable': '1.0.0', 'upload-length': '1000' },
  });
  t.equal(upload.status, 503, 'an upload cannot be opened');
  t.match(await upload.json(), { error: { code: 'E_UNAVAILABLE' } });
  t.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the node is alive');

  await proxy.restore();
  await eventually(() => readyz(server), (r) => r.status === 200, 'not ready again after the database came back');
  const list = await admin.json('GET', '/v1/videos');
  t.equal(list.status, 200);
  t.ok(list.body.items.some((v: any) => v.id === before.body.id), 'what was written before the cut is there');

  const clip = await makeClip(dir, { width: 320, height: 180, seconds: 2 });
  const up = await tusUpload(server.url, clip, { token: server.adminToken });
  const video = await waitForVideo(admin, up.videoId!);
  t.equal(video.status, 'ready', 'uploads and processing work again');
  t.equal(await mediaProcess(server), mediaPid, 'with the same media process');
  t.notMatch(server.logs(), /process died/, 'no process was restarted');
});
