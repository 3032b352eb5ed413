/**
 * Many uploads created at once across several HTTP processes sharing one SQLite file:
 * every creation succeeds (transactions take the write lock up front instead of failing
 * with "database is locked" when a read must upgrade to a write).
 */
import t from 'tap';
import { startServer } from '../helpers/server.js';

t.test('60 concurrent upload creations on 2 HTTP processes all succeed', async (t) => {
  const server = await startServer({ env: { FRAMECAST_WORKERS: '2' } });
  t.teardown(() => server.stop());
  const create = (i: number) =>
    fetch(`${server.url}/v1/uploads`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${server.adminToken}`,
        'tus-resumable': '1.0.0',
        'upload-length': '1048576',
        'upload-metadata': `filename ${Buffer.from(`f${i}.mp4`).toString('base64')}`,
      },
    }).then(async (r) => ({ status: r.status, body: r.status === 201 ? '' : await r.text() }));
  const results = await Promise.all(Array.from({ length: 60 }, (_, i) => create(i)));
  const failed = results.filter((r) => r.status !== 201);
  t.same(failed, [], 'no creation failed');
});
