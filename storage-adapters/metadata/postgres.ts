/**
 * Metadata on PostgreSQL (node-postgres pool through Kysely), shared by every node.
 *
 * - Numbers: int8 (`bigint`, our epoch milliseconds and sizes) and `numeric` (what `sum()`
 *   of a bigint returns) arrive from node-postgres as strings; this pool parses them to
 *   numbers, as the seam's types promise. Values stay below 2^53 (ms timestamps, byte sizes).
 * - Migrations are the shared ones (core/storage/migrations.ts), run while holding a
 *   session advisory lock: nodes starting together migrate one after another, instead of
 *   racing on `create table` (Kysely's own migration lock only exists once its tables do).
 * - `claimJob` picks its row with `FOR UPDATE SKIP LOCKED`: concurrent claimers on any
 *   node skip a row another is taking instead of waiting for it or taking it twice.
 * - Search stays the portable LIKE in VideoCatalog (tsvector/GIN is a later step).
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { ClaimOrder, Database, JobRow, MetadataDb, UploadSessionRow, VideoSearchPage, VideoSearchQuery } from '../../core/storage/metadata-db.js';
import type { LiveUpdateTransport } from '../../core/origin/live-updates.js';
import { withDbErrorClassifier, type DbErrorClassifier } from '../../core/storage/db-errors.js';
import { migrateToLatest } from '../../core/storage/migrations.js';
import { claimNextJob } from './claim-job.js';
import { acquireLease, expireIdleUploadSessions, releaseLease } from './leases.js';
import { searchVideosTsvector } from './postgres-search.js';

const INT8_OID = 20;
const NUMERIC_OID = 1700;
/** Arbitrary but fixed: "framecast migrations" for pg_advisory_lock. */
const MIGRATION_LOCK_KEY = 0x6672_6d63;
const CONNECT_TIMEOUT_MS = 10_000;
const PING_TIMEOUT_MS = 3_000;

const toNumber = (value: string): number => Number(value);

/** Socket errors of a server that cannot be reached (down, restarting, network cut). */
const UNREACHABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** SQLSTATEs of a server going away or refusing connections (class 08 is matched apart). */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** node-postgres reports a lost or never-made connection without any code. */
const LOST_CONNECTION = /connection terminated|timeout exceeded when trying to connect|not queryable|connection timeout/i;

export function classifyPostgresError(err: unknown): ReturnType<DbErrorClassifier> {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (code === '53100') return 'E_STORAGE_FULL'; // disk_full
  if (typeof code === 'string' && (UNREACHABLE_ERRNOS.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08'))) return 'E_UNAVAILABLE';
  return typeof message === 'string' && LOST_CONNECTION.test(message) ? 'E_UNAVAILABLE' : undefined;
}

/** Type parsers for this pool only (the global pg.types stay untouched). */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return toNumber;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** The URL without its password, for error messages. */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/** The LISTEN/NOTIFY channel of live object changes (core/origin/live-updates.ts). */
const LIVE_UPDATES_CHANNEL = 'framecast_live_updates';

class PostgresMetadataDb implements MetadataDb {
  readonly dialect = 'postgres' as const;
  readonly db: Kysely<Database>;

  constructor(
    db: Kysely<Database>,
    private readonly pool: pg.Pool,
    private readonly url: string,
  ) {
    this.db = db;
  }

  /**
   * NOTIFY through the pool; LISTEN on a connection of its own (a pooled one would be
   * handed to other queries). A listener whose connection drops is reconnected after a
   * second: meanwhile blocked reloads wait out their bound, they do not fail.
   */
  async openUpdateChannel(onKey: (key: string) => void, opts: { listen: boolean }): Promise<LiveUpdateTransport> {
    let client: pg.Client | undefined;
    let closed = false;
    const listen = async (): Promise<void> => {
      const c = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
      c.on('notification', (m) => {
        if (m.channel === LIVE_UPDATES_CHANNEL && m.payload) onKey(m.payload);
      });
      c.on('error', () => {
        if (client === c) client = undefined;
        void c.end().catch(() => undefined);
        if (!closed) setTimeout(() => void listen().catch(() => undefined), 1000).unref();
      });
      await c.connect();
      await c.query(`LISTEN ${LIVE_UPDATES_CHANNEL}`);
      client = c;
    };
    if (opts.listen) await listen();
    return {
      send: (key) => void this.pool.query('SELECT pg_notify($1, $2)', [LIVE_UPDATES_CHANNEL, key]).catch(() => undefined),
      close: async () => {
        closed = true;
        await client?.end().catch(() => undefined);
      },
    };
  }

  async claimJob(owner: string, leaseMs: number, now: number, types?: readonly string[], node?: string, order?: ClaimOrder): Promise<JobRow | undefined> {
    if (types?.length === 0) return undefined;
    // The subquery locks the chosen row; a concurrent claimer skips it and takes the next.
    return claimNextJob(this.db, { owner, leaseMs, now, types, node, lockRow: true, order });
  }

  searchVideos(q: VideoSearchQuery): Promise<VideoSearchPage> {
    return searchVideosTsvector(this.db, q);
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

  async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS)));
    try {
      return await Promise.race([sql`select 1`.execute(this.db).then(() => true), timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

/** Runs the shared migrations while holding the cluster-wide migration lock. */
export async function migrateLocked(pool: pg.Pool, db: Kysely<Database>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await migrateToLatest(db);
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

/**
 * Opens a pool on the `postgres://` (or `postgresql://`) URL and migrates the database.
 * Fails within about ten seconds, naming the server, when it cannot connect.
 */
export default async function createPostgresMetadataDb(url: string): Promise<MetadataDb> {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`postgres metadata needs a postgres:// URL, got ${JSON.stringify(redacted(url))}`);
  const pool = new pg.Pool({ connectionString: url, types, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, max: 10 });
  // An idle client that loses its server emits 'error' on the pool; without a listener that
  // would end the process. The next query gets a fresh client (and /readyz reports it).
  pool.on('error', () => undefined);
  // So does a client checked out between two queries (inside a transaction): its query
  // fails, the pool drops it on release, and the next query connects again.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({ dialect: withDbErrorClassifier(new PostgresDialect({ pool }), classifyPostgresError) });
  try {
    await migrateLocked(pool, db);
  } catch (err) {
    await db.destroy();
    throw new Error(`metadata database ${redacted(url)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return new PostgresMetadataDb(db, pool, url);
}
