/**
 * A storage backend that goes away: /readyz answers 503 naming it, while the node keeps
 * serving what does not need it (health, the catalog from the database).
 */
import t from 'tap';
import { api } from '../helpers/api.js';
import { s3Unavailable, startS3Server } from '../helpers/s3-server.js';
import { startServer } from '../helpers/server.js';

const unavailable = s3Unavailable();
if (unavailable) {
  t.test('backend down', { skip: unavailable }, () => {});
} else {
  t.test('S3 down: /readyz 503 names the storage; the node keeps serving', async (t) => {
    const s3 = await startS3Server();
    let s3Stopped = false;
    t.teardown(() => (s3Stopped ? undefined : s3.stop()));
    const bucket = await s3.createBucket();
    const server = await startServer({ env: { FRAMECAST_STORAGE_URL: s3.url(bucket), FRAMECAST_ROLES: 'api,worker' } });
    t.teardown(() => server.stop());
    t.equal((await fetch(`${server.url}/readyz`)).status, 200, 'ready while S3 answers');

    await s3.stop();
    s3Stopped = true;
    let ready: Response | undefined;
    for (let i = 0; i < 60; i++) {
      ready = await fetch(`${server.url}/readyz`);
      if (ready.status === 503) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    t.equal(ready?.status, 503, 'not ready without its storage');
    t.match(await ready?.json(), { status: 'unavailable', missing: ['storage'] });
    t.equal((await fetch(`${server.url}/healthz`)).status, 200, 'still alive');
    t.equal((await api(server.url, server.adminToken).json('GET', '/v1/videos')).status, 200, 'the catalog still answers');
  });
}
