/**
 * Contract of the upload seams every MetadataDb adapter passes (called from
 * metadataContract): the upload lease (one holder at a time, free again once expired) and
 * the idle-upload sweep (one guarded statement that never deletes a completed session, one
 * still receiving bytes, or one a request holds the lease of).
 */
import type { Test } from 'tap';
import { uploadLeaseName, type MetadataDb } from '../../core/storage/metadata-db.js';
import type { MetadataContractOptions, MetadataFixture } from './metadata-suite.js';

/** Inserts a video with one uploading version and returns nothing; sessions hang off it. */
async function seedVideo(db: MetadataDb, id: string): Promise<void> {
  await db.db
    .insertInto('videos')
    .values({ id, title: id, description: '', tags: '[]', visibility: 'public', status: 'uploading', current_version: 0, latest_version: 1, owner: null, error_code: null, error_message: null, error_retryable: null, created_at: 0, updated_at: 0, ready_at: null })
    .execute();
}

async function session(db: MetadataDb, id: string, fields: { created_at: number; last_activity_at: number | null; completed_at?: number | null }): Promise<void> {
  await db.db
    .insertInto('upload_sessions')
    .values({ id, video_id: 'vupload', version: 1, size: 100, filename: 'f.mp4', expires_at: fields.created_at + 1000, completed_at: null, ...fields })
    .execute();
}

export function uploadContract(t: Test, opts: MetadataContractOptions, openFor: (t: Test, f: MetadataFixture) => Promise<MetadataDb>): void {
  t.test('a lease has one holder at a time and is free again once it expires', async (t) => {
    const fixture = await opts.makeFixture(t);
    const a = await openFor(t, fixture);
    const b = await openFor(t, fixture);
    t.equal(await a.acquireLease('up1', 'req-a', 1000, 10_000), true, 'a free lease is taken');
    t.equal(await b.acquireLease('up1', 'req-b', 1000, 10_500), false, 'another connection waits while it is held');
    t.equal(await a.acquireLease('up1', 'req-a', 1000, 10_800), true, 'the holder renews it');
    t.equal(await b.acquireLease('up1', 'req-b', 1000, 11_500), false, 'renewed: still held at 11.5 s');
    t.equal(await b.acquireLease('up2', 'req-b', 1000, 11_500), true, 'other uploads are independent');
    t.equal(await b.acquireLease('up1', 'req-b', 1000, 11_800), true, 'an expired lease (holder died) is taken over');
    await a.releaseLease('up1', 'req-a');
    t.equal(await a.acquireLease('up1', 'req-a', 1000, 11_900), false, 'releasing someone else\'s lease frees nothing');
    await b.releaseLease('up1', 'req-b');
    t.equal(await a.acquireLease('up1', 'req-a', 1000, 11_900), true, 'a released lease is free');
  });

  t.test('concurrent takers of one lease: exactly one wins', async (t) => {
    const fixture = await opts.makeFixture(t);
    const conns: MetadataDb[] = [];
    for (let i = 0; i < 4; i++) conns.push(await openFor(t, fixture));
    const won = await Promise.all(conns.map((c, i) => c.acquireLease('race', `req-${i}`, 5000, 1000)));
    t.equal(won.filter(Boolean).length, 1);
  });

  t.test('the idle sweep deletes only open sessions idle past the cutoff and not being written', async (t) => {
    const fixture = await opts.makeFixture(t);
    const db = await openFor(t, fixture);
    await seedVideo(db, 'vupload');
    // Cutoff: idle since before 5000; now = 9000.
    await session(db, 'idle', { created_at: 1000, last_activity_at: 2000 });
    await session(db, 'never-written', { created_at: 1000, last_activity_at: null });
    await session(db, 'old-but-active', { created_at: 1000, last_activity_at: 8000 });
    await session(db, 'completed', { created_at: 1000, last_activity_at: 2000, completed_at: 3000 });
    await session(db, 'being-written', { created_at: 1000, last_activity_at: 2000 });
    await session(db, 'lease-expired', { created_at: 1000, last_activity_at: 2000 });
    t.equal(await db.acquireLease(uploadLeaseName('being-written'), 'writer', 10_000, 1000), true);
    t.equal(await db.acquireLease(uploadLeaseName('lease-expired'), 'dead-writer', 1000, 1000), true);

    const expired = await db.expireIdleUploadSessions(5000, 9000);
    t.same(expired.map((s) => s.id).sort(), ['idle', 'lease-expired', 'never-written'], 'returns what it deleted');
    t.match(expired.find((s) => s.id === 'idle'), { video_id: 'vupload', version: 1, size: 100 });
    const left = await db.db.selectFrom('upload_sessions').select('id').orderBy('id').execute();
    t.same(left.map((r) => r.id), ['being-written', 'completed', 'old-but-active']);
    t.same(await db.expireIdleUploadSessions(5000, 9000), [], 'a second sweep finds nothing');
  });

  t.test('a session completed between the sweep\'s read and its delete survives (the statement is the guard)', async (t) => {
    const fixture = await opts.makeFixture(t);
    const sweeper = await openFor(t, fixture);
    const finisher = await openFor(t, fixture);
    await seedVideo(sweeper, 'vupload');
    await session(sweeper, 'racing', { created_at: 1000, last_activity_at: 2000 });
    // The old sweep read the stale rows first, then deleted by id: here the completion
    // lands after any such read, and the sweep's one statement must still spare it.
    const stale = await sweeper.db.selectFrom('upload_sessions').select('id').where('completed_at', 'is', null).execute();
    t.same(stale.map((r) => r.id), ['racing']);
    await finisher.db.updateTable('upload_sessions').set({ completed_at: 9000 }).where('id', '=', 'racing').where('completed_at', 'is', null).execute();
    t.same(await sweeper.expireIdleUploadSessions(5000, 9000), []);
    t.equal((await sweeper.db.selectFrom('upload_sessions').select('completed_at').where('id', '=', 'racing').executeTakeFirst())?.completed_at, 9000);
  });
}
