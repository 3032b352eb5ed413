/**
 * A queued job starts without waiting for the runner's next poll: the queue announces it
 * (core/jobs/wake.ts) and the runner claims at once; a job that ends frees its slot for the
 * next one at once too. The runners here poll once an hour, so a job that runs within the
 * test's bounds can only have been woken.
 */
import t from 'tap';
import pino from 'pino';
import { JobQueue } from '../../core/jobs/queue.js';
import { JobRunner, type JobHandlers } from '../../core/jobs/runner.js';
import { announceQueuedJob, onQueuedJob } from '../../core/jobs/wake.js';
import createSqliteMetadataDb from '../../storage-adapters/metadata/sqlite.js';

const HOUR = 3_600_000;

t.test('a queued job runs at once and the next takes the freed slot, with an hourly poll', async (t) => {
  const db = await createSqliteMetadataDb('sqlite::memory:', { dataDir: '.' });
  t.teardown(() => db.close());
  const queue = new JobQueue(db, { max_attempts: 3, backoff_base_s: 5, lease_s: 30, onEnqueued: announceQueuedJob });
  const started: string[] = [];
  let release!: () => void;
  const firstHeld = new Promise<void>((resolve) => (release = resolve));
  const handlers = {
    'vod.process': {
      async run(job) {
        started.push(job.payload.videoId);
        if (job.payload.videoId === 'first') await firstHeld;
      },
    },
  } as Partial<JobHandlers> as JobHandlers;
  const runner = new JobRunner(queue, handlers, { owner: 'w1', concurrency: 1, pollIntervalMs: HOUR, leaseMs: 30_000, timeoutMs: HOUR, types: ['vod.process'] }, pino({ level: 'silent' }));
  runner.start();
  const stopWaking = onQueuedJob(() => runner.wake());
  t.teardown(async () => {
    stopWaking();
    release();
    await runner.stop();
  });
  // start() polled once, on an empty queue: nothing else would poll within the hour.
  await new Promise((r) => setTimeout(r, 100));

  await queue.enqueue('vod.process', { videoId: 'first', version: 1 });
  await until(() => started.includes('first'));
  t.same(started, ['first'], 'the first job started without a poll');

  await queue.enqueue('vod.process', { videoId: 'second', version: 1 });
  await new Promise((r) => setTimeout(r, 300));
  t.same(started, ['first'], 'the second waits while the only slot is busy');
  release();
  await until(() => started.includes('second'));
  t.same(started, ['first', 'second'], 'the freed slot took the second job without a poll');
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
}
