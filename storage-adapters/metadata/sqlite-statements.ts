/**
 * Prepared statements, kept. Kysely's SQLite driver prepares every query it runs; on a hot
 * read (GET /v1/videos/:id) preparing costs about as much as running it. The catalog's
 * queries come from a few shapes with bound parameters, so their SQL strings repeat and a
 * small LRU of statements by SQL text turns each prepare into a map lookup. Small: a
 * prepared statement holds ~35 KB, and only the hot shapes need to stay.
 *
 * A statement still iterating (Kysely streams with `iterate`) is busy and cannot run again;
 * such a one is never handed out twice: the caller then gets a fresh, uncached statement.
 * Schema changes are safe: SQLite re-prepares a stale statement on its next run.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';
import { LRUCache } from 'lru-cache';

export function withStatementCache(db: BetterSqlite3.Database, max = 64): SqliteDatabase {
  const statements = new LRUCache<string, BetterSqlite3.Statement>({ max });
  return {
    close: () => {
      statements.clear();
      db.close();
    },
    prepare: (sql: string) => {
      const cached = statements.get(sql);
      if (cached && !cached.busy) return cached;
      const statement = db.prepare(sql);
      if (!cached) statements.set(sql, statement);
      return statement;
    },
  };
}
