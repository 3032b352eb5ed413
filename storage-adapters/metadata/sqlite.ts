/**
 * Metadata on SQLite (better-sqlite3 through Kysely). Several processes of one node (the
 * HTTP cluster workers and the media process) open the same file: WAL lets readers run
 * beside the one writer, `busy_timeout` makes a writer wait for the lock instead of
 * failing, and every write that must not race is a single statement (or `BEGIN IMMEDIATE`),
 * which SQLite runs under its database-wide write lock.
 */
import { mkdirSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteDialect, SqliteDriver, sql, type DatabaseConnection, type Driver } from 'kysely';
import type { ClaimOrder, Database, JobRow, MetadataDb, UploadSessionRow, VideoSearchPage, VideoSearchQuery } from '../../core/storage/metadata-db.js';
import { withDbErrorClassifier, type DbErrorClassifier } from '../../core/storage/db-errors.js';
import { migrateToLatest, type MigrateOptions } from '../../core/storage/migrations.js';
import { claimNextJob } from './claim-job.js';
import { acquireLease, expireIdleUploadSessions, releaseLease } from './leases.js';
import { searchVideosFts } from './sqlite-search.js';
import { withStatementCache } from './sqlite-statements.js';

/**
 * Transactions start with BEGIN IMMEDIATE: several processes write to one file, and a
 * deferred transaction that reads and then writes fails at once with "database is locked"
 * (SQLITE_BUSY without waiting: the busy timeout cannot help a read lock that must upgrade
 * while another process writes). Taking the write lock up front makes it wait its turn.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: ConstructorParameters<typeof SqliteDialect>[0];
  constructor(config: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

const MEMORY = ':memory:';
const BUSY_TIMEOUT_MS = 5000;
/** How long /readyz waits for the write lock: a normal write holds it for milliseconds. */
const PING_BUSY_TIMEOUT_MS = 500;

/**
 * SQLite result codes (and their extended forms) meaning "not now": another process held
 * the lock past the busy timeout, or the file or its disk cannot be opened, read or written.
 */
const UNAVAILABLE_CODE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|READONLY)/;

export function classifySqliteError(err: unknown): ReturnType<DbErrorClassifier> {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  if (code.startsWith('SQLITE_FULL')) return 'E_STORAGE_FULL';
  return UNAVAILABLE_CODE.test(code) ? 'E_UNAVAILABLE' : undefined;
}

/** File path from `sqlite:PATH` (relative to `dataDir`), or `:memory:`. */
function databasePath(url: string, dataDir: string): string {
  if (!url.startsWith('sqlite:')) throw new Error(`sqlite metadata needs a sqlite: URL, got ${JSON.stringify(url)}`);
  const target = url.slice('sqlite:'.length);
  if (target === '') throw new Error('sqlite: URL names no database file');
  return target === MEMORY ? MEMORY : path.resolve(dataDir, target);
}

class SqliteMetadataDb implements MetadataDb {
  readonly dialect = 'sqlite' as const;
  readonly db: Kysely<Database>;

  /** The database file as opened: path and identity (undefined for :memory:). */
  readonly #file: { path: string; dev: number; ino: number } | undefined;

  constructor(db: Kysely<Database>, file?: string) {
    this.db = db;
    if (file) {
      const st = statSync(file);
      this.#file = { path: file, dev: st.dev, ino: st.ino };
    }
  }

  async claimJob(owner: string, leaseMs: number, now: number, types?: readonly string[], node?: string, order?: ClaimOrder): Promise<JobRow | undefined> {
    if (types?.length === 0) return undefined;
    // The statement takes SQLite's write lock when it starts: no writer runs in between.
    return claimNextJob(this.db, { owner, leaseMs, now, types, node, lockRow: false, order });
  }

  searchVideos(q: VideoSearchQuery): Promise<VideoSearchPage> {
    return searchVideosFts(this.db, q);
  }

  acquireLease(name: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    return acquireLease(this.db, name, owner, ttlMs, now);
  }

  releaseLease(name: string, owner: string): Promise<void> {
    return releaseLease(this.db, name, owner);
  }

  expireIdleUploadSessions(idleBefore: number, now: number): Promise<UploadSessionRow[]> {
    return expireIdleUploadSessions(this.db, idleBefore, now);
  }

  /**
   * True when a write could run now. Reads go on while another process holds the write
   * lock (WAL), so `select 1` would say ready while every write waits out the busy timeout
   * and fails: the probe takes the write lock for a moment instead.
   * Not ready either while the database file is missing or another file took its name.
   */
  async ping(): Promise<boolean> {
    // A file deleted or replaced under the node stays open and writable here, but nothing
    // written to it would be seen again: not ready until the opened file is back in place.
    if (this.#file) {
      const st = await stat(this.#file.path).catch(() => undefined);
      if (!st || st.dev !== this.#file.dev || st.ino !== this.#file.ino) return false;
    }
    try {
      return await this.db.connection().execute(async (conn) => {
        await sql.raw(`pragma busy_timeout = ${PING_BUSY_TIMEOUT_MS}`).execute(conn);
        try {
          await sql`begin immediate`.execute(conn);
          await sql`rollback`.execute(conn);
          return true;
        } finally {
          await sql.raw(`pragma busy_timeout = ${BUSY_TIMEOUT_MS}`).execute(conn);
        }
      });
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

/**
 * Runs the migrations inside one `BEGIN IMMEDIATE` transaction. Kysely runs SQLite
 * migrations without a transaction, so a failure would leave a step half applied; and
 * taking the write lock before reading which migrations ran makes processes starting
 * together migrate one after the other, instead of two running the same step (the second
 * failing with "table already exists").
 */
export async function migrateExclusively(db: Kysely<Database>, opts: Omit<MigrateOptions, 'disableTransactions'> = {}): Promise<void> {
  await db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      await migrateToLatest(conn, { ...opts, disableTransactions: true });
      await sql`commit`.execute(conn);
    } catch (err) {
      // SQLite may have rolled back already (e.g. on SQLITE_FULL); keep the first error.
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}

/** Opens (creating if needed) and migrates the SQLite database named by `url`. */
export default async function createSqliteMetadataDb(url: string, opts: { dataDir: string }): Promise<MetadataDb> {
  const file = databasePath(url, opts.dataDir);
  if (file !== MEMORY) mkdirSync(path.dirname(file), { recursive: true });
  const connection = new BetterSqlite3(file);
  try {
    connection.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    connection.pragma('journal_mode = WAL');
    connection.pragma('synchronous = NORMAL');
    connection.pragma('foreign_keys = ON');
  } catch (err) {
    connection.close();
    throw err;
  }
  const db = new Kysely<Database>({ dialect: withDbErrorClassifier(new ImmediateSqliteDialect({ database: withStatementCache(connection) }), classifySqliteError) });
  try {
    await migrateExclusively(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return new SqliteMetadataDb(db, file === MEMORY ? undefined : file);
}
