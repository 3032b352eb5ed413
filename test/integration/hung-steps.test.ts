/**
 * A hung step never holds a job slot: ffprobe on a source that never delivers a byte (a
 * fifo nobody writes) and an S3 download that stalls mid-body are torn down by the step
 * time limit and fail with E_PROCESSING_TIMEOUT naming the step.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AppError } from '../../core/errors.js';
import { withStepTimeout } from '../../core/jobs/step-timeout.js';
import { probeSource } from '../../core/media/probe.js';
import createS3ObjectStore from '../../storage-adapters/objects/s3.js';
import { FFPROBE } from '../helpers/media-fixtures.js';

const dir = await mkdtemp(join(tmpdir(), 'framecast-hung-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const LIMITS = { max_duration_s: 14400, max_pixels: 35389440 };

t.test('ffprobe on a source that never delivers is killed at the step limit', async (t) => {
  const fifo = join(dir, 'never.mp4');
  execFileSync('mkfifo', [fifo]);
  const job = new AbortController();
  const err = await withStepTimeout(job.signal, 1, 'probing the source (ffprobe)', (signal) => probeSource(FFPROBE, fifo, LIMITS, { signal })).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof AppError, 'rejected with an AppError');
  t.equal((err as AppError).code, 'E_PROCESSING_TIMEOUT');
  t.match((err as AppError).message, /probing the source \(ffprobe\) did not finish within 1 s/);
  t.equal((err as AppError).retryable, true, 'retried like other timeouts');
});

t.test('a job abort (delete, shutdown) stops ffprobe too and is not reported as a step timeout', async (t) => {
  const fifo = join(dir, 'never-2.mp4');
  execFileSync('mkfifo', [fifo]);
  const job = new AbortController();
  setTimeout(() => job.abort(new Error('the video was deleted')), 300);
  const err = await withStepTimeout(job.signal, 60, 'probing the source (ffprobe)', (signal) => probeSource(FFPROBE, fifo, LIMITS, { signal })).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err, 'rejected');
  t.notOk(err instanceof AppError && err.code === 'E_PROCESSING_TIMEOUT', 'not a step timeout');
});

t.test('an S3 download that stalls mid-body is torn down at the step limit', async (t) => {
  let closed!: () => void;
  const connectionClosed = new Promise<void>((res) => (closed = res));
  // A stand-in S3 endpoint: the bucket exists; the object sends 1 KB of 1 MB, then nothing.
  const server: Server = createServer((req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(200).end();
      return;
    }
    res.writeHead(200, { 'Content-Length': String(1 << 20), 'Content-Type': 'application/octet-stream' });
    res.write(Buffer.alloc(1024));
    req.socket.once('close', () => closed());
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  t.teardown(() => new Promise<void>((res) => server.close(() => res())));
  server.closeIdleConnections();
  const port = (server.address() as { port: number }).port;
  const store = await createS3ObjectStore(`s3://key:secret@127.0.0.1:${port}/bucket?ssl=false`);
  const err = await withStepTimeout(new AbortController().signal, 1, 'downloading the source', (signal) =>
    store.download('sources/abc/v1/source', join(dir, 'copy'), { signal }),
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal((err as AppError | undefined)?.code, 'E_PROCESSING_TIMEOUT');
  t.match((err as AppError).message, /downloading the source did not finish within 1 s/);
  await connectionClosed;
  t.pass('the stalled connection was closed by the client');
  server.closeAllConnections();
});
