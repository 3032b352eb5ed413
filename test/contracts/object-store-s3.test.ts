import { Readable } from 'node:stream';
import { Upload } from '@tus/utils';
import t from 'tap';
import createS3ObjectStore, { parseS3Url } from '../../storage-adapters/objects/s3.js';
import { s3Unavailable, startS3Server } from '../helpers/s3-server.js';
import { objectStoreContract } from './object-store-suite.js';

const unavailable = s3Unavailable();
if (unavailable) {
  t.test('s3 object store contract', { skip: unavailable }, () => {});
} else {
  const s3 = await startS3Server();
  t.teardown(() => s3.stop());

  /** A store on a fresh bucket, emptied and removed when the test ends. */
  const freshStore = async (t: Parameters<Parameters<typeof objectStoreContract>[1]>[0]) => {
    const bucket = await s3.createBucket();
    const store = await createS3ObjectStore(s3.url(bucket));
    t.teardown(async () => {
      await store.close();
      await s3.removeBucket(bucket);
    });
    return store;
  };

  objectStoreContract(t, freshStore);

  t.test('the URL names region, addressing style, TLS and bucket creation', async (t) => {
    t.match(parseS3Url('s3://k%2Fey:s%40cret@minio:9000/media?ssl=false'), {
      endPoint: 'minio',
      port: 9000,
      useSSL: false,
      accessKey: 'k/ey',
      secretKey: 's@cret',
      bucket: 'media',
      region: 'us-east-1',
      pathStyle: true,
      createBucket: false,
    });
    t.match(parseS3Url('s3://k:s@s3.eu-west-1.amazonaws.com/media?region=eu-west-1&style=virtual&create=true'), {
      port: undefined,
      useSSL: true,
      region: 'eu-west-1',
      pathStyle: false,
      createBucket: true,
    });
    t.throws(() => parseS3Url('s3://k:s@host/'), /one bucket/);
    t.throws(() => parseS3Url('s3://host/bucket'), /KEY:SECRET/);
    t.throws(() => parseS3Url('s3://k:s@host/b?style=odd'), /path or virtual/);
  });

  t.test('a wrong secret is a clear error at open, naming the storage but not the secret', async (t) => {
    const bucket = await s3.createBucket();
    t.teardown(() => s3.removeBucket(bucket));
    const err = await createS3ObjectStore(s3.url(bucket, { secret: 'not-the-secret' })).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    t.ok(err, 'refused');
    t.match(err?.message, new RegExp(`object storage s3://127\\.0\\.0\\.1:${s3.port}/${bucket}: (AccessDenied|SignatureDoesNotMatch): the access key or secret is wrong`));
    t.notMatch(err?.message, /not-the-secret/);
  });

  t.test('a missing bucket is refused unless create=true; a dead server fails fast with E_UNAVAILABLE', async (t) => {
    await t.rejects(createS3ObjectStore(s3.url('fc-missing-bucket')), /bucket "fc-missing-bucket" does not exist/);
    const made = await createS3ObjectStore(`${s3.url('fc-made-here')}&create=true`);
    t.teardown(async () => {
      await made.close();
      await s3.removeBucket('fc-made-here');
    });
    t.equal(await made.ping(), true);
    await t.rejects(createS3ObjectStore('s3://k:s@127.0.0.1:1/bkt?ssl=false'), /object storage s3:\/\/127\.0\.0\.1:1\/bkt: .*ECONNREFUSED/);

    // A store whose server went away: ping says false and calls fail with our code.
    const store = await freshStore(t);
    const gone = new (store.constructor as typeof import('../../storage-adapters/objects/s3.js').S3ObjectStore)(
      parseS3Url('s3://k:s@127.0.0.1:1/bkt?ssl=false'),
    );
    t.teardown(() => gone.close());
    t.equal(await gone.ping(), false);
    await t.rejects(gone.head('media/a/v1/x'), { code: 'E_UNAVAILABLE' });
  });

  t.test('presigned URLs serve the object to a plain HTTP client', async (t) => {
    const store = await freshStore(t);
    await store.put('media/a/v1/seg.m4s', 'segment bytes');
    const res = await fetch(await store.presign('media/a/v1/seg.m4s', 60));
    t.equal(res.status, 200);
    t.equal(await res.text(), 'segment bytes');
  });

  t.test('an unfinished upload resumes through another store instance (another node)', async (t) => {
    const nodeA = await freshStore(t);
    const nodeB = await createS3ObjectStore(s3.url(nodeA.location.bucket));
    t.teardown(() => nodeB.close());
    const tusA = nodeA.tusDataStore({ expirationPeriodInMilliseconds: 60_000 });
    const tusB = nodeB.tusDataStore({ expirationPeriodInMilliseconds: 60_000 });
    const bytes = Buffer.alloc(6 * 1024 * 1024 + 10, 7);
    await tusA.create(new Upload({ id: 'resumed', size: bytes.length, offset: 0, metadata: {}, creation_date: new Date().toISOString() }));
    const first = 5 * 1024 * 1024 + 3;
    t.equal(await tusA.write(Readable.from([bytes.subarray(0, first)]), 'resumed', 0), first);
    t.equal((await tusB.getUpload('resumed')).offset, first, 'node B sees the offset node A left');
    const [incomplete] = await nodeB.listIncompleteUploads('tus/');
    t.match(incomplete, { key: 'tus/resumed' }, 'the upload is a multipart upload under tus/');
    t.equal(await tusB.write(Readable.from([bytes.subarray(first)]), 'resumed', first), bytes.length);
    t.equal((await nodeB.head(nodeB.tusUploadKey('resumed')))?.size, bytes.length, 'complete');
    t.same(await nodeB.listIncompleteUploads('tus/'), [], 'no multipart upload is left');
  });

  t.test('deleting an unfinished upload aborts its multipart upload', async (t) => {
    const store = await freshStore(t);
    const tus = store.tusDataStore({ expirationPeriodInMilliseconds: 60_000 });
    await tus.create(new Upload({ id: 'dropped', size: 10_000_000, offset: 0, metadata: {}, creation_date: new Date().toISOString() }));
    await tus.write(Readable.from([Buffer.alloc(1000)]), 'dropped', 0);
    t.equal((await store.listIncompleteUploads('tus/')).length, 1);
    await store.delete(store.tusUploadKey('dropped'));
    t.same(await store.listIncompleteUploads('tus/'), []);
    t.same(await store.list('tus/'), [], 'no .info or .part is left');
    await t.rejects(tus.getUpload('dropped'));
  });
}
