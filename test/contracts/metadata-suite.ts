/**
 * The contract every MetadataDb adapter passes. An adapter's test file calls
 * `metadataContract(t, { makeFixture, adapterModule })`: `makeFixture(t)` makes a fresh,
 * empty database for one test (cleaned up with `t.teardown`) and `open()` gives a new,
 * separate connection to it each call; `adapterModule` (the adapter's file URL) lets the
 * suite race real processes on one database.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Insertable } from 'kysely';
import type { Test } from 'tap';
import type { JobsTable, MetadataDb, NewVideo } from '../../core/storage/metadata-db.js';
import { migrateToLatest } from '../../core/storage/migrations.js';
import { telemetryContract } from './metadata-telemetry-suite.js';
import { uploadContract } from './metadata-upload-suite.js';

export interface MetadataFixture {
  /** What the adapter's factory takes for this database. */
  url: string;
  dataDir: string;
  /** Opens another connection to the same database; the suite closes it. */
  open(): Promise<MetadataDb>;
}

export interface MetadataContractOptions {
  makeFixture(t: Test): Promise<MetadataFixture>;
  /** File URL of the adapter module (default export = factory), for the multi-process race. */
  adapterModule?: string;
}

/** Opens a connection that is closed when the test ends. */
async function openFor(t: Test, fixture: MetadataFixture): Promise<MetadataDb> {
  const db = await fixture.open();
  t.teardown(() => db.close());
  return db;
}

export function video(id: string, overrides: Partial<NewVideo> = {}): NewVideo {
  return {
    id,
    title: `video ${id}`,
    description: '',
    tags: '[]',
    visibility: 'public',
    status: 'awaiting_upload',
    current_version: 0,
    latest_version: 0,
    owner: null,
    error_code: null,
    error_message: null,
    error_retryable: null,
    created_at: 1_700_000_000_000,
    updated_at: 1_700_000_000_000,
    ready_at: null,
    ...overrides,
  };
}

export function queuedJob(overrides: Partial<Insertable<JobsTable>> = {}): Insertable<JobsTable> {
  return {
    type: 'vod.process',
    video_id: null,
    version: null,
    payload: '{}',
    status: 'queued',
    attempts: 0,
    max_attempts: 3,
    run_after: 0,
    lease_owner: null,
    lease_expires_at: null,
    last_error: null,
    created_at: 0,
    updated_at: 0,
    started_at: null,
    finished_at: null,
    ...overrides,
  };
}

async function insertJobs(db: MetadataDb, jobs: Insertable<JobsTable>[]): Promise<number[]> {
  const rows = await db.db.insertInto('jobs').values(jobs).returning('id').execute();
  return rows.map((r) => r.id);
}

/** A child process holding its own connection that claims every job it can after `go()`. */
export interface ClaimerProcess {
  /** Resolves once the child opened (and migrated) the database. */
  ready: Promise<void>;
  go(): void;
  /** Ids the child claimed. */
  claimed: Promise<number[]>;
}

const CLAIMER = `
const [adapterModule, url, dataDir, owner] = process.argv.slice(1);
const { default: openDb } = await import(adapterModule);
const db = await openDb(url, { dataDir });
process.stdout.write('ready\\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
const ids = [];
for (;;) {
  const job = await db.claimJob(owner, 600000, Date.now());
  if (!job) break;
  ids.push(job.id);
}
await db.close();
process.stdout.write(JSON.stringify(ids) + '\\n');
process.stdin.destroy();
`;

export function spawnClaimer(t: Test, adapterModule: string, fixture: MetadataFixture, owner: string): ClaimerProcess {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', CLAIMER, adapterModule, fixture.url, fixture.dataDir, owner],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  t.teardown(() => {
    if (child.exitCode === null) child.kill();
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`claimer ${owner} exited with ${code}: ${stderr}`);
  });
  const nextLine = async (): Promise<string> => {
    const line = await lines.next();
    if (line.done) {
      await exited;
      throw new Error(`claimer ${owner} ended early: ${stderr}`);
    }
    return line.value;
  };
  const ready = nextLine().then((l) => {
    if (l !== 'ready') throw new Error(`claimer ${owner} said ${l}`);
  });
  const claimed = ready.then(async () => {
    const ids = JSON.parse(await nextLine()) as number[];
    await exited;
    return ids;
  });
  // Callers may only look at `claimed`; keep `ready` failures from going unhandled.
  ready.catch(() => undefined);
  return { ready, go: () => child.stdin.write('go\n'), claimed };
}

function assertEachClaimedOnce(t: Test, claims: number[][], all: number[]): void {
  const flat = claims.flat();
  t.equal(new Set(flat).size, flat.length, 'no job was handed out twice');
  t.same([...flat].sort((a, b) => a - b), [...all].sort((a, b) => a - b), 'every job was handed out');
}

export function metadataContract(t: Test, opts: MetadataContractOptions): void {
  uploadContract(t, opts, openFor);
  telemetryContract(t, opts, openFor);
  t.test('migrations create the tables and are idempotent', async (t) => {
    const fixture = await opts.makeFixture(t);
    const first = await openFor(t, fixture);
    const second = await openFor(t, fixture);
    await migrateToLatest(first.db);
    t.equal(await first.ping(), true);
    t.equal(await second.ping(), true);
    const tables = (await first.db.introspection.getTables()).map((tb) => tb.name);
    for (const name of ['videos', 'versions', 'renditions', 'jobs', 'upload_sessions', 'api_tokens']) {
      t.ok(tables.includes(name), `has ${name}`);
    }
  });

  t.test('videos, versions and renditions round-trip; deleting a video cascades', async (t) => {
    const fixture = await opts.makeFixture(t);
    const db = await openFor(t, fixture);
    const epochMs = 1_750_000_000_123;
    await db.db.insertInto('videos').values(video('vid1', { created_at: epochMs, updated_at: epochMs, tags: '["a","b"]' })).execute();
    const row = await db.db.selectFrom('videos').selectAll().where('id', '=', 'vid1').executeTakeFirstOrThrow();
    t.match(row, { id: 'vid1', title: 'video vid1', tags: '["a","b"]', status: 'awaiting_upload', owner: null });
    t.equal(row.created_at, epochMs, 'epoch milliseconds survive as numbers');

    await db.db
      .insertInto('versions')
      .values({
        video_id: 'vid1',
        version: 1,
        status: 'processing',
        stage: 'transcode',
        percent: 42.5,
        playable: 0,
        source_bytes: 6_000_000_000,
        source_filename: 'clip.mp4',
        duration_ms: null,
        width: null,
        height: null,
        probe: null,
        manifest: null,
        loudness: -23.1,
        encoder: null,
        error_code: null,
        error_message: null,
        error_retryable: null,
        processing_started_at: epochMs,
        created_at: epochMs,
        ready_at: null,
      })
      .execute();
    await db.db.insertInto('renditions').values({ video_id: 'vid1', version: 1, name: '240p', width: 426, height: 240, bitrate_kbps: 300, codecs: 'avc1.64001e,mp4a.40.2' }).execute();
    const version = await db.db.selectFrom('versions').selectAll().where('video_id', '=', 'vid1').where('version', '=', 1).executeTakeFirstOrThrow();
    t.match(version, { percent: 42.5, loudness: -23.1, source_bytes: 6_000_000_000 }, 'fractions and sizes past 2^32 survive');
    await t.rejects(
      db.db.insertInto('renditions').values({ video_id: 'vid1', version: 9, name: '240p', width: 1, height: 1, bitrate_kbps: 1, codecs: 'x' }).execute(),
      'a rendition needs its version',
    );

    await db.db.deleteFrom('videos').where('id', '=', 'vid1').execute();
    t.same(await db.db.selectFrom('versions').selectAll().execute(), [], 'versions went with the video');
    t.same(await db.db.selectFrom('renditions').selectAll().execute(), [], 'renditions went with the version');
  });

  t.test('full-text search: every word as a prefix, ranked by where it occurs, exact paging', async (t) => {
    const fixture = await opts.makeFixture(t);
    const db = await openFor(t, fixture);
    // Every adapter in this repo implements search; a third-party one may not (the catalog then falls back to substring search).
    t.ok(db.searchVideos, 'the adapter has full-text search');
    if (!db.searchVideos) return;
    const at = (n: number) => 1_700_000_000_000 + n;
    await db.db
      .insertInto('videos')
      .values([
        video('s-title', { title: 'Harbor sunset', created_at: at(1), updated_at: at(1) }),
        video('s-tags', { title: 'Evening', tags: '["harbor","boats"]', created_at: at(2), updated_at: at(2) }),
        video('s-desc', { title: 'Walk', description: 'a walk along the harbor', created_at: at(3), updated_at: at(3) }),
        video('s-none', { title: 'Mountains', created_at: at(4), updated_at: at(4) }),
        video('s-both', { title: 'Harbor boats', created_at: at(5), updated_at: at(5) }),
      ])
      .execute();
    const search = async (words: string[], extra: Partial<Parameters<NonNullable<MetadataDb['searchVideos']>>[0]> = {}) =>
      (await db.searchVideos!({ words, limit: 10, ...extra })).hits;
    const ids = (hits: { id: string }[]) => hits.map((h) => h.id);
    /** Every hit of `words`, read `limit` at a time through the cursor. */
    const allPages = async (words: string[], limit: number) => {
      const first = await db.searchVideos!({ words, limit });
      const out = [...first.hits];
      for (let page = first.hits; page.length === limit; ) {
        const last = page[page.length - 1]!;
        page = (await db.searchVideos!({ words, limit, seqAtMost: first.snapshot, after: { rank: last.rank, seq: last.seq } })).hits;
        out.push(...page);
      }
      return ids(out);
    };
    t.same(ids(await search(['harb'])), ['s-both', 's-title', 's-tags', 's-desc'], 'prefix match; title before tags before description, newest first among equals');
    t.same(ids(await search(['HARBOR', 'boat'])), ['s-both', 's-tags'], 'every word must match, in any case');
    t.same(ids(await search(['nothing'])), []);
    t.same(ids(await search(['%'])), [], 'words without letters or digits match nothing');
    t.same(await allPages(['harbor'], 1), ['s-both', 's-title', 's-tags', 's-desc'], 'pages of one continue exactly, across rank tiers');

    const { snapshot } = await db.searchVideos!({ words: ['harbor'], limit: 10 });
    await db.db.insertInto('videos').values(video('s-later', { title: 'Harbor later', created_at: at(6), updated_at: at(6) })).execute();
    t.same(ids(await search(['harbor'], { seqAtMost: snapshot })), ['s-both', 's-title', 's-tags', 's-desc'], 'the snapshot excludes rows inserted since');
    t.same(ids(await search(['harbor'])), ['s-later', 's-both', 's-title', 's-tags', 's-desc'], 'a new snapshot has them');

    // Each word counts with its best column: three and four words (more than three rank all matches at once).
    await db.db
      .insertInto('videos')
      .values([
        video('m-titles', { title: 'kelp quay tern wharf', created_at: at(7), updated_at: at(7) }),
        video('m-mixed', { title: 'kelp quay', tags: '["tern"]', description: 'wharf', created_at: at(8), updated_at: at(8) }),
        video('m-desc', { title: 'kelp', description: 'quay tern wharf', created_at: at(9), updated_at: at(9) }),
        video('m-three', { title: 'kelp quay tern', tags: '["wharf"]', description: 'kelp kelp', created_at: at(10), updated_at: at(10) }),
      ])
      .execute();
    const three = await search(['kelp', 'quay', 'tern']);
    t.same(ids(three), ['m-three', 'm-titles', 'm-mixed', 'm-desc'], 'three words: ranks summed over best columns, newest first among equals');
    t.same(three.map((h) => h.rank), [-30, -30, -24, -12], 'a word counts once, with its best column');
    const four = await search(['kelp', 'quay', 'tern', 'wharf']);
    t.same(ids(four), ['m-titles', 'm-three', 'm-mixed', 'm-desc']);
    t.same(four.map((h) => h.rank), [-40, -34, -25, -13]);
    t.same(await allPages(['kelp', 'quay', 'tern', 'wharf'], 1), ids(four), 'four-word pages continue exactly');
    t.same(ids(await search(['kelp', 'quay', 'tern'], { visibilities: [] })), [], 'no visibility allowed, no hits');
  });

  t.test('api token hashes are unique', async (t) => {
    const fixture = await opts.makeFixture(t);
    const db = await openFor(t, fixture);
    const token = { name: 'ci', scopes: 'upload,read', created_at: 1, revoked_at: null, token_hash: 'ab'.repeat(32) };
    await db.db.insertInto('api_tokens').values({ id: 't1', ...token }).execute();
    await t.rejects(db.db.insertInto('api_tokens').values({ id: 't2', ...token }).execute());
  });

  t.test('claimJob takes the due job that waited longest and leases it', async (t) => {
    const fixture = await opts.makeFixture(t);
    const db = await openFor(t, fixture);
    t.equal(await db.claimJob('w1', 30_000, 1000), undefined, 'nothing to claim in an empty queue');
    const [later, sooner, future] = await insertJobs(db, [
      queuedJob({ run_after: 500 }),
      queuedJob({ run_after: 100 }),
      queuedJob({ run_after: 5000 }),
    ]);
    const job = await db.claimJob('w1', 30_000, 1000);
    t.match(job, { id: sooner, status: 'running', lease_owner: 'w1', lease_expires_at: 31_000, attempts: 1, started_at: 1000 });
    t.equal((await db.claimJob('w1', 30_000, 1000))?.id, later);
    t.equal(await db.claimJob('w1', 30_000, 1000), undefined, 'a job that is not due yet waits');
    t.equal((await db.claimJob('w1', 30_000, 5000))?.id, future, 'and is claimed once due');
  });

  t.test('claimJob only takes the types asked for', async (t) => {
    const fixture = await opts.makeFixture(t);
    const db = await openFor(t, fixture);
    const [other, mine] = await insertJobs(db, [queuedJob({ type: 'future.kind' }), queuedJob({ type: 'vod.process' })]);
    t.equal(await db.claimJob('w1', 30_000, 1000, []), undefined, 'no types, no job');
    t.equal((await db.claimJob('w1', 30_000, 1000, ['vod.process']))?.id, mine);
    t.equal(await db.claimJob('w1', 30_000, 1000, ['vod.process']), undefined);
    t.equal((await db.claimJob('w1', 30_000, 1000))?.id, other, 'without a filter any type');
  });

  t.test('claimJob with priorities takes the highest first, and a waiting job rises with its wait', async (t) => {
    const fixture = await opts.makeFixture(t);
    const db = await openFor(t, fixture);
    const minute = 60_000;
    const order = { ageingMs: minute };
    const [oldLow, normal, high] = await insertJobs(db, [
      queuedJob({ priority: -10, created_at: 0 }),
      queuedJob({ priority: 0, created_at: 30 * minute }),
      queuedJob({ priority: 10, created_at: 30 * minute }),
    ]);
    // At 30 min: the low job has waited 30 minutes (−10 + 30 = 20), above high (10 + 0).
    t.equal((await db.claimJob('w1', 30_000, 30 * minute, undefined, undefined, order))?.id, oldLow, 'the starving low job goes first');
    t.equal((await db.claimJob('w1', 30_000, 30 * minute, undefined, undefined, order))?.id, high);
    t.equal((await db.claimJob('w1', 30_000, 30 * minute, undefined, undefined, order))?.id, normal);
  });

  t.test('a job that wants an encoder is claimed only by a claimer that has it', async (t) => {
    const fixture = await opts.makeFixture(t);
    const db = await openFor(t, fixture);
    const [gpu, any] = await insertJobs(db, [queuedJob({ wants_encoder: 'h264_nvenc' }), queuedJob({ run_after: 10 })]);
    t.equal((await db.claimJob('cpu', 10_000, 1000, undefined, undefined, { encoders: ['libx264'] }))?.id, any, 'a libx264-only claimer skips it');
    t.equal(await db.claimJob('cpu', 10_000, 1000, undefined, undefined, { encoders: ['libx264'] }), undefined);
    t.equal(await db.claimJob('old', 10_000, 1000), undefined, 'a claimer that names no encoders too');
    t.equal((await db.claimJob('gpu', 10_000, 1000, undefined, undefined, { encoders: ['h264_nvenc', 'libx264'] }))?.id, gpu);
  });

  t.test('a job pinned to a node is claimed by that node only, also after its lease expires', async (t) => {
    const fixture = await opts.makeFixture(t);
    const db = await openFor(t, fixture);
    const [pinned = -1, anyNode] = await insertJobs(db, [queuedJob({ type: 'live.archive', node_id: 'node-a' }), queuedJob({ run_after: 10 })]);
    t.equal((await db.claimJob('b1', 10_000, 1000, ['live.archive'], 'node-b'))?.id, undefined, 'another node leaves it queued');
    t.equal((await db.claimJob('x1', 10_000, 1000, ['live.archive']))?.id, undefined, 'a claimer without a node id too');
    t.equal((await db.claimJob('b1', 10_000, 1000, undefined, 'node-b'))?.id, anyNode, 'an unpinned job goes to any node');
    t.match(await db.claimJob('a1', 10_000, 1000, ['live.archive'], 'node-a'), { id: pinned, lease_owner: 'a1', attempts: 1 }, 'its node takes it');
    t.equal(await db.claimJob('b2', 10_000, 20_000, ['live.archive'], 'node-b'), undefined, 'its expired lease is not taken over by another node');
    t.match(await db.claimJob('a2', 10_000, 20_000, ['live.archive'], 'node-a'), { id: pinned, lease_owner: 'a2', attempts: 2 }, 'but by its own node');
  });

  t.test('a running job is reclaimed only after its lease expires, and the attempt counts', async (t) => {
    const fixture = await opts.makeFixture(t);
    const db = await openFor(t, fixture);
    const [id = -1] = await insertJobs(db, [queuedJob()]);
    t.match(await db.claimJob('dead-worker', 10_000, 1000), { id, attempts: 1 });
    t.equal(await db.claimJob('w2', 10_000, 10_999), undefined, 'the lease still holds');
    const again = await db.claimJob('w2', 10_000, 11_000);
    t.match(again, { id, status: 'running', lease_owner: 'w2', lease_expires_at: 21_000, attempts: 2, started_at: 1000 }, 'taken over; started_at keeps the first start');
    for (const status of ['succeeded', 'dead', 'failed'] as const) {
      await db.db.updateTable('jobs').set({ status, lease_expires_at: 0 }).where('id', '=', id).execute();
      t.equal(await db.claimJob('w3', 10_000, 50_000), undefined, `a ${status} job is never claimed`);
    }
  });

  t.test('two connections claiming in turn never get the same job', async (t) => {
    const fixture = await opts.makeFixture(t);
    const a = await openFor(t, fixture);
    const b = await openFor(t, fixture);
    const all = await insertJobs(a, Array.from({ length: 60 }, (_, i) => queuedJob({ run_after: i % 7 })));
    const claims: number[][] = [[], []];
    for (;;) {
      const [ja, jb] = await Promise.all([a.claimJob('a', 60_000, 1000), b.claimJob('b', 60_000, 1000)]);
      if (ja) claims[0]?.push(ja.id);
      if (jb) claims[1]?.push(jb.id);
      if (!ja && !jb) break;
    }
    t.ok((claims[0]?.length ?? 0) > 0 && (claims[1]?.length ?? 0) > 0, 'both connections got work');
    assertEachClaimedOnce(t, claims, all);
  });

  t.test('processes racing on one database never get the same job', { skip: opts.adapterModule ? false : 'no adapter module given' }, async (t) => {
    const fixture = await opts.makeFixture(t);
    const db = await openFor(t, fixture);
    const all = await insertJobs(db, Array.from({ length: 300 }, () => queuedJob()));
    const claimers = ['p1', 'p2'].map((owner) => spawnClaimer(t, opts.adapterModule ?? '', fixture, owner));
    await Promise.all(claimers.map((c) => c.ready));
    for (const c of claimers) c.go();
    const mine: number[] = [];
    for (let job = await db.claimJob('parent', 600_000, Date.now()); job; job = await db.claimJob('parent', 600_000, Date.now())) {
      mine.push(job.id);
      // Yield so the children's claims interleave with ours.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const claims = [mine, ...(await Promise.all(claimers.map((c) => c.claimed)))];
    t.comment(`claimed per process: ${claims.map((c) => c.length).join(', ')}`);
    assertEachClaimedOnce(t, claims, all);
  });
}
