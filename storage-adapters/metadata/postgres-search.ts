/**
 * Full-text search on PostgreSQL: the generated `search_vector` tsvector with its GIN index
 * (migration 0004) finds the rows; every word typed must match, each as a prefix
 * ("harb" finds "harbor"); a word with inner punctuation is a phrase ("pure_fun" = pure <-> fun*).
 *
 * The rank is the same as SQLite's (storage-adapters/metadata/sqlite-search.ts): per word,
 * title 10, tags 4, description 1, newest first among equals. It depends on the row alone,
 * so a cursor continues exactly on the next page even while rows are inserted.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database, VideoSearchHit, VideoSearchQuery } from '../../core/storage/metadata-db.js';
import { afterCursor, SEARCH_COLUMNS, SEARCH_WEIGHTS, searchFilters } from './search-rank.js';

/** One word as a tsquery: its letter/digit runs joined as a phrase, the last a prefix. */
export function wordQuery(word: string): string | undefined {
  const tokens = word.toLowerCase().match(/[\p{L}\p{N}]+/gu);
  if (!tokens) return undefined;
  return tokens.map((tok, i) => (i === tokens.length - 1 ? `${tok}:*` : tok)).join(' <-> ');
}

export async function searchVideosTsvector(db: Kysely<Database>, q: VideoSearchQuery): Promise<VideoSearchHit[]> {
  const words = q.words.map(wordQuery).filter((w): w is string => w !== undefined);
  if (words.length === 0) return [];
  const all = words.map((w) => `(${w})`).join(' & ');
  const rankTerms: RawBuilder<unknown>[] = words.flatMap((w) =>
    SEARCH_COLUMNS.map(
      (column) => sql`(to_tsvector('simple', ${sql.ref(`v.${column}`)}) @@ to_tsquery('simple', ${w}))::int * ${sql.lit(SEARCH_WEIGHTS[column])}`,
    ),
  );
  const filters = searchFilters(q);
  if (!filters) return [];
  filters.unshift(sql`v.search_vector @@ to_tsquery('simple', ${all})`);
  const { rows } = await sql<VideoSearchHit>`
    select * from (
      select v.*, -(${sql.join(rankTerms, sql` + `)}) as rank
      from videos v
      where ${sql.join(filters, sql` and `)}
    ) hits ${afterCursor(q)}
    order by rank, created_at desc, id desc
    limit ${q.limit}`.execute(db);
  // search_vector is an index column, not part of the row the catalog knows.
  return rows.map(({ search_vector: _unused, ...row }: VideoSearchHit & { search_vector?: unknown }) => row as VideoSearchHit);
}
