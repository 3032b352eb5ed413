/**
 * Which failures count as "out of storage" (507 E_STORAGE_FULL) and "database unavailable"
 * (503 E_UNAVAILABLE), from errors as the real libraries raise them.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import t from 'tap';
import { AppError, asAppError, storageErrorCode, toVideoError } from '../../core/errors.js';
import { classifyPostgresError } from '../../storage-adapters/metadata/postgres.js';
import { classifySqliteError } from '../../storage-adapters/metadata/sqlite.js';
import { freePort } from '../helpers/server.js';

const errno = (code: string, syscall = 'write') => Object.assign(new Error(`${code}: failure, ${syscall} '/srv/data/x'`), { code, syscall });

t.test('full, over-quota and read-only storage are E_STORAGE_FULL, however they arrive', async (t) => {
  for (const code of ['ENOSPC', 'EDQUOT', 'EROFS']) t.equal(storageErrorCode(errno(code)), 'E_STORAGE_FULL', code);
  // ffmpeg reports the errno as text, and an error from a worker thread keeps only its message.
  t.equal(storageErrorCode(new Error('ffmpeg exited with 1: av_interleaved_write_frame(): No space left on device')), 'E_STORAGE_FULL');
  t.equal(storageErrorCode(new Error('wrapped', { cause: errno('ENOSPC') })), 'E_STORAGE_FULL', 'found in the cause chain');
  t.equal(storageErrorCode(new AppError('E_STORAGE_FULL')), 'E_STORAGE_FULL');
  t.equal(storageErrorCode(errno('ENOENT')), undefined);
  t.equal(storageErrorCode(errno('EACCES')), undefined);
  t.equal(storageErrorCode(new AppError('E_NOT_MEDIA', 'no space left on device')), undefined, "a code given on purpose is kept");
  t.equal(storageErrorCode(undefined), undefined);
});

t.test('a real ENOSPC becomes a retryable 507 whose message names the errno, not local paths', async (t) => {
  const real = await writeFile('/dev/full', 'x').then(
    () => undefined,
    (err: unknown) => err,
  );
  t.match(real, { code: 'ENOSPC' }, '/dev/full answers ENOSPC');
  const app = asAppError(real);
  t.match(app, { code: 'E_STORAGE_FULL', status: 507, retryable: true });
  t.equal(app?.message, 'the server is out of storage space; try again later (ENOSPC, write)');
  t.same(toVideoError(real), { code: 'E_STORAGE_FULL', message: app?.message, retryable: true });
  t.match(toVideoError(new Error('ffmpeg exited with 1')), { code: 'E_TRANSCODE_FAILED' }, 'other failures stay as they were');
  t.equal(asAppError(new Error('boom')), undefined);
});

t.test('SQLite: a held lock is E_UNAVAILABLE, a full disk E_STORAGE_FULL, a bad statement neither', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'framecast-sqlite-errors-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'db.sqlite');
  const a = new BetterSqlite3(file);
  const b = new BetterSqlite3(file, { timeout: 0 });
  t.teardown(() => {
    a.close();
    b.close();
  });
  a.exec('create table t (x)');
  a.exec('begin exclusive');
  const busy = (() => {
    try {
      b.exec('insert into t values (1)');
    } catch (err) {
      return err;
    }
  })();
  a.exec('rollback');
  t.match(busy, { code: 'SQLITE_BUSY' });
  t.equal(classifySqliteError(busy), 'E_UNAVAILABLE');
  t.equal(classifySqliteError(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })), 'E_STORAGE_FULL');
  t.equal(classifySqliteError(Object.assign(new Error('x'), { code: 'SQLITE_IOERR_WRITE' })), 'E_UNAVAILABLE');
  const syntax = (() => {
    try {
      a.exec('selec 1');
    } catch (err) {
      return err;
    }
  })();
  t.equal(classifySqliteError(syntax), undefined);
});

t.test('PostgreSQL: an unreachable server or a lost connection is E_UNAVAILABLE, a bad query is not', async (t) => {
  const port = await freePort();
  const client = new pg.Client({ host: '127.0.0.1', port, connectionTimeoutMillis: 2000 });
  const refused = await client.connect().then(
    () => undefined,
    (err: unknown) => err,
  );
  t.match(refused, { code: 'ECONNREFUSED' });
  t.equal(classifyPostgresError(refused), 'E_UNAVAILABLE');
  t.equal(classifyPostgresError(new Error('Connection terminated unexpectedly')), 'E_UNAVAILABLE');
  t.equal(classifyPostgresError(new Error('timeout exceeded when trying to connect')), 'E_UNAVAILABLE');
  t.equal(classifyPostgresError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })), 'E_UNAVAILABLE');
  t.equal(classifyPostgresError(Object.assign(new Error('could not extend file'), { code: '53100' })), 'E_STORAGE_FULL');
  t.equal(classifyPostgresError(Object.assign(new Error('syntax error at or near "selec"'), { code: '42601' })), undefined);
  t.equal(classifyPostgresError(Object.assign(new Error('duplicate key'), { code: '23505' })), undefined);
});
