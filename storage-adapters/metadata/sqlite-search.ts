/**
 * Full-text search on SQLite: the FTS5 index `videos_fts` (migration 0004) over title,
 * description and tags. Every word typed must match; each matches as a prefix ("harb" finds
 * "harbor"), and a word with inner punctuation is a phrase ("pure_fun" = "pure fun*").
 *
 * Ranking weighs where each word occurs, bm25-style column weights (title 10, tags 4,
 * description 1) summed over the words, newest first among equals. It deliberately leaves
 * out bm25's corpus statistics (document frequencies, average lengths): those change with
 * every insert, so a bm25 order shifts between two page requests and a cursor would repeat
 * or skip results. A row's rank here depends on the row alone, so pages are exact.
 */
import { sql, type Kysely } from 'kysely';
import type { Database, VideoSearchHit, VideoSearchQuery } from '../../core/storage/metadata-db.js';
import { afterCursor, SEARCH_COLUMNS, SEARCH_WEIGHTS, searchFilters } from './search-rank.js';

/** Each searchable word as an FTS5 prefix phrase (words without letters or digits are dropped). */
function phrases(words: readonly string[]): string[] {
  return words.filter((w) => /[\p{L}\p{N}]/u.test(w)).map((w) => `"${w.replace(/"/g, '""')}"*`);
}

/** The FTS5 MATCH expression for the words; undefined when no word has a searchable character. */
export function ftsExpression(words: readonly string[]): string | undefined {
  const p = phrases(words);
  return p.length > 0 ? p.join(' AND ') : undefined;
}

export async function searchVideosFts(db: Kysely<Database>, q: VideoSearchQuery): Promise<VideoSearchHit[]> {
  const match = ftsExpression(q.words);
  if (match === undefined) return [];
  // Per word and column: does the word occur there? Each is one FTS lookup, materialized
  // once and joined by rowid (an IN subquery here would be run again for every hit).
  const columns = phrases(q.words).flatMap((phrase) =>
    SEARCH_COLUMNS.map((column) => ({ expr: `${column} : ${phrase}`, weight: SEARCH_WEIGHTS[column] })),
  );
  const ctes = sql.join(
    columns.map((c, i) => sql`${sql.ref(`c${i}`)} as materialized (select rowid as r from videos_fts where videos_fts match ${c.expr})`),
    sql`, `,
  );
  const joins = sql.join(
    columns.map((_, i) => sql`left join ${sql.ref(`c${i}`)} on ${sql.ref(`c${i}.r`)} = hits.r`),
    sql` `,
  );
  const rankTerms = sql.join(
    columns.map((c, i) => sql`(${sql.ref(`c${i}.r`)} is not null) * ${sql.lit(c.weight)}`),
    sql` + `,
  );
  const filters = searchFilters(q);
  if (!filters) return [];
  const { rows } = await sql<VideoSearchHit>`
    with hits as materialized (select rowid as r from videos_fts where videos_fts match ${match}), ${ctes}
    select * from (
      select v.*, -(${rankTerms}) as rank
      from hits join videos v on v.rowid = hits.r ${joins}
      where ${sql.join(filters, sql` and `)}
    ) ${afterCursor(q)}
    order by rank, created_at desc, id desc
    limit ${q.limit}`.execute(db);
  return rows;
}
