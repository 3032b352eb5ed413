import t, { type Test } from 'tap';
import { JobQueue, type Job, type JobQueueOptions } from '../../core/jobs/queue.js';
import type { MetadataDb } from '../../core/storage/metadata-db.js';
import createSqliteMetadataDb from '../../storage-adapters/metadata/sqlite.js';

const START = 1_700_000_000_000;

interface Setup {
  db: MetadataDb;
  queue: JobQueue;
  clock: { now: number; advance(ms: number): void };
}

async function setup(t: Test, opts: Partial<JobQueueOptions> = {}): Promise<Setup> {
  const db = await createSqliteMetadataDb('sqlite::memory:', { dataDir: '.' });
  t.teardown(() => db.close());
  const clock = {
    now: START,
    advance(ms: number) {
      this.now += ms;
    },
  };
  const queue = new JobQueue(db, { max_attempts: 3, backoff_base_s: 5, lease_s: 30, now: () => clock.now, ...opts });
  return { db, queue, clock };
}

t.test('an enqueued job is claimed with its typed payload and a lease', async (t) => {
  const { queue, clock } = await setup(t);
  const row = await queue.enqueue('vod.process', { videoId: 'abc', version: 2 }, { videoId: 'abc', version: 2 });
  t.match(row, { type: 'vod.process', status: 'queued', attempts: 0, max_attempts: 3, video_id: 'abc', version: 2, run_after: START });
  const job = await queue.claim('w1');
  t.ok(job, 'claimed');
  t.match(job, { id: row.id, type: 'vod.process', status: 'running', attempts: 1, lease_owner: 'w1', lease_expires_at: clock.now + 30_000 });
  t.same(job?.payload, { videoId: 'abc', version: 2 }, 'the payload comes back parsed');
  t.equal(await queue.claim('w2'), undefined, 'a leased job is not handed out again');
});

t.test('runAfter delays a job', async (t) => {
  const { queue, clock } = await setup(t);
  await queue.enqueue('vod.process', { videoId: 'abc', version: 1 }, { runAfter: START + 60_000 });
  t.equal(await queue.claim('w1'), undefined);
  clock.advance(60_000);
  t.ok(await queue.claim('w1'));
});

t.test('retryable failures back off exponentially, then the job is dead-lettered', async (t) => {
  const { queue, clock } = await setup(t, { max_attempts: 4, backoff_base_s: 5 });
  const { id } = await queue.enqueue('vod.process', { videoId: 'abc', version: 1 });
  for (const [attempt, delayS] of [[1, 5], [2, 10], [3, 20]] as const) {
    const job = await queue.claim('w1');
    t.equal(job?.attempts, attempt, `attempt ${attempt}`);
    t.equal(await queue.fail(id, 'w1', `E_TRANSCODE_FAILED: boom ${attempt}`, { retryable: true }), 'retry');
    const [row] = await queue.list();
    t.match(row, { status: 'queued', run_after: clock.now + delayS * 1000, last_error: `E_TRANSCODE_FAILED: boom ${attempt}`, lease_owner: null });
    clock.advance(delayS * 1000 - 1);
    t.equal(await queue.claim('w1'), undefined, `not before ${delayS} s`);
    clock.advance(1);
  }
  t.equal((await queue.claim('w1'))?.attempts, 4);
  t.equal(await queue.fail(id, 'w1', 'E_TRANSCODE_FAILED: still broken', { retryable: true }), 'dead', 'no attempts left');
  const [row] = await queue.list();
  t.match(row, { status: 'dead', last_error: 'E_TRANSCODE_FAILED: still broken', finished_at: clock.now, lease_owner: null });
  clock.advance(3_600_000);
  t.equal(await queue.claim('w1'), undefined, 'a dead job never runs again');
});

t.test('a non-retryable failure is dead at once', async (t) => {
  const { queue } = await setup(t);
  const { id } = await queue.enqueue('vod.process', { videoId: 'abc', version: 1 });
  await queue.claim('w1');
  t.equal(await queue.fail(id, 'w1', 'E_NOT_MEDIA: not a video', { retryable: false }), 'dead');
  t.equal((await queue.list({ status: 'dead' })).length, 1);
});

t.test('heartbeats keep the lease; a worker that stops them loses the job', async (t) => {
  const { queue, clock } = await setup(t);
  const { id } = await queue.enqueue('vod.process', { videoId: 'abc', version: 1 });
  await queue.claim('w1');
  clock.advance(20_000);
  t.equal(await queue.heartbeat(id, 'w1'), true);
  clock.advance(20_000);
  t.equal(await queue.claim('w2'), undefined, 'the renewed lease still holds 40 s after the claim');
  clock.advance(10_000);
  const taken = await queue.claim('w2');
  t.match(taken, { id, lease_owner: 'w2', attempts: 2 }, 'taken over once the lease ran out');

  t.equal(await queue.heartbeat(id, 'w1'), false, 'the old owner learns it lost the lease');
  t.equal(await queue.succeed(id, 'w1'), false, 'and cannot finish the job');
  t.equal(await queue.fail(id, 'w1', 'late', { retryable: true }), 'lost', 'or fail it');
  t.equal(await queue.release(id, 'w1'), false, 'or release it');
  t.match((await queue.list())[0], { status: 'running', lease_owner: 'w2', attempts: 2, last_error: null });

  t.equal(await queue.succeed(id, 'w2'), true);
  t.match((await queue.list())[0], { status: 'succeeded', lease_owner: null, lease_expires_at: null, finished_at: clock.now });
  t.equal(await queue.heartbeat(id, 'w2'), false, 'a finished job has no lease');
});

t.test('a job whose worker keeps dying is dead-lettered and reported', async (t) => {
  const deadLetters: { job: Job; reason: string }[] = [];
  const { queue, clock } = await setup(t, { max_attempts: 2, onDeadLetter: (job, reason) => void deadLetters.push({ job, reason }) });
  const { id } = await queue.enqueue('vod.process', { videoId: 'abc', version: 1 }, { videoId: 'abc', version: 1 });
  const second = await queue.enqueue('vod.process', { videoId: 'def', version: 1 }, { runAfter: START + 1_000_000 });
  t.equal((await queue.claim('w1'))?.attempts, 1);
  clock.advance(30_000);
  t.equal((await queue.claim('w2'))?.attempts, 2, 'reclaimed after the first crash');
  clock.advance(30_000);
  t.equal(await queue.claim('w3'), undefined, 'no attempt is left after the second crash');
  t.match((await queue.list({ status: 'dead' }))[0], { id, status: 'dead', lease_owner: null });
  t.equal(deadLetters.length, 1);
  t.match(deadLetters[0], { job: { id, payload: { videoId: 'abc', version: 1 } }, reason: /lease/ });
  clock.advance(1_000_000);
  t.equal((await queue.claim('w3'))?.id, second.id, 'the queue goes on with other jobs');
});

t.test('release gives the job back at once without counting the attempt', async (t) => {
  const { queue } = await setup(t);
  const { id } = await queue.enqueue('vod.process', { videoId: 'abc', version: 1 });
  await queue.claim('w1');
  t.equal(await queue.release(id, 'w1'), true);
  t.match((await queue.list())[0], { status: 'queued', attempts: 0, lease_owner: null });
  t.match(await queue.claim('w2'), { id, attempts: 1, lease_owner: 'w2' }, 'another worker takes it at once');
});

t.test('list filters by status, newest first; depth counts queued and running jobs', async (t) => {
  const { queue, db } = await setup(t);
  t.same(await queue.depth(), { queued: 0, running: 0 });
  const a = await queue.enqueue('vod.process', { videoId: 'a', version: 1 });
  const b = await queue.enqueue('vod.process', { videoId: 'b', version: 1 });
  const c = await queue.enqueue('vod.process', { videoId: 'c', version: 1 });
  await queue.claim('w1');
  t.same(await queue.depth(), { queued: 2, running: 1 });
  t.same((await queue.list()).map((j) => j.id), [c.id, b.id, a.id]);
  t.same((await queue.list({ status: 'running' })).map((j) => j.id), [a.id]);
  t.same((await queue.list({ limit: 1 })).map((j) => j.id), [c.id]);
  await queue.succeed(a.id, 'w1');
  t.same(await queue.depth(), { queued: 2, running: 0 });

  // A job type from a newer node stays for a node that knows it.
  await db.db
    .insertInto('jobs')
    .values({ ...b, id: undefined, type: 'future.kind', run_after: 0 })
    .execute();
  const claimed = [await queue.claim('w1'), await queue.claim('w1'), await queue.claim('w1')].map((j) => j?.type);
  t.same(claimed, ['vod.process', 'vod.process', undefined], 'unknown types are not claimed');
});

t.test("expireLeasesOf hands a dead worker's running jobs out at once, and only its own", async (t) => {
  const { queue } = await setup(t);
  await queue.enqueue('vod.process', { videoId: 'a', version: 1 });
  await queue.enqueue('vod.process', { videoId: 'b', version: 1 });
  const dead = await queue.claim('host:1:dead');
  const live = await queue.claim('host:2:live');
  t.equal(await queue.claim('w3'), undefined, 'both leased');
  t.equal(await queue.expireLeasesOf('host:1:dead'), 1);
  const again = await queue.claim('w3');
  t.match(again, { id: dead!.id, attempts: 2, lease_owner: 'w3' }, 'taken again without waiting out the lease');
  t.equal(await queue.claim('w4'), undefined, "the live worker's job stays leased");
  t.ok(await queue.heartbeat(live!.id, 'host:2:live'));
  t.notOk(await queue.heartbeat(dead!.id, 'host:1:dead'), 'the dead owner cannot act on it any more');
});

t.test('a job enqueued for one node is never run by another, even past max_attempts of tries elsewhere', async (t) => {
  const { queue, clock } = await setup(t);
  const row = await queue.enqueue('live.archive', { liveId: 'l1', videoId: 'v1', version: 1 }, { videoId: 'v1', version: 1, node: 'node-a' });
  t.equal(row.node_id, 'node-a', 'the job names its node');
  for (let i = 0; i < 5; i++) {
    t.equal(await queue.claim('b', undefined, 'node-b'), undefined, `another node leaves it (poll ${i + 1})`);
    clock.advance(60_000);
  }
  t.match(await queue.list({ status: 'queued' }), [{ id: row.id, attempts: 0, node_id: 'node-a' }], 'it waits, queued, with no attempt used');
  t.match(await queue.claim('a', undefined, 'node-a'), { id: row.id, attempts: 1 }, 'its own node runs it');
});

t.test('a job waiting for a group is claimed only once every job of the group succeeded', async (t) => {
  const { queue } = await setup(t, { priority: { ageing_s: 60 } as JobQueueOptions['priority'] });
  const part = (index: number) => ({ videoId: 'abc', version: 1, sourceVersion: 1, part: { kind: 'video' as const, index, start_s: index * 8, end_s: null, first_segment: index * 4, first_frame: index * 240 }, ladder: [] });
  await queue.enqueue('vod.chunk', part(0), { group: 'g1' });
  await queue.enqueue('vod.chunk', part(1), { group: 'g1' });
  const finish = await queue.enqueue('vod.finish', { videoId: 'abc', version: 1, chunks: 2, group: 'g1', ladder: [] }, { waitsFor: 'g1', priority: 5 });
  const first = await queue.claim('w1');
  t.equal(first?.type, 'vod.chunk', 'the parts first, though the finish job has the higher priority');
  await queue.succeed(first!.id, 'w1');
  const second = await queue.claim('w1');
  t.equal(second?.type, 'vod.chunk');
  t.equal(await queue.claim('w2'), undefined, 'not while a part is still running');
  await queue.succeed(second!.id, 'w1');
  t.equal((await queue.claim('w2'))?.id, finish.id, 'due once the whole group succeeded');
});
