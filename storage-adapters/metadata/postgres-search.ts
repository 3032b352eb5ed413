/**
 * Full-text search on PostgreSQL: the generated `search_vector` tsvector with its GIN index
 * (migration 0004) finds the rows; every word typed must match, each as a prefix
 * ("harb" finds "harbor"); a word with inner punctuation is a phrase ("pure_fun" = pure <-> fun*).
 *
 * The rank is search-rank.ts's, as on SQLite: per word the weight of its best column (title
 * 10, tags 4, description 1), newest (`seq`, migration 0006) first among equals. It depends
 * on the row alone, so a cursor continues exactly on the next page even while rows are inserted.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database, VideoSearchHit, VideoSearchPage, VideoSearchQuery } from '../../core/storage/metadata-db.js';
import { afterCursor, SEARCH_COLUMNS, SEARCH_WEIGHTS, searchFilters } from './search-rank.js';

/** One word as a tsquery: its letter/digit runs joined as a phrase, the last a prefix. */
export function wordQuery(word: string): string | undefined {
  const tokens = word.toLowerCase().match(/[\p{L}\p{N}]+/gu);
  if (!tokens) return undefined;
  return tokens.map((tok, i) => (i === tokens.length - 1 ? `${tok}:*` : tok)).join(' <-> ');
}

export async function searchVideosTsvector(db: Kysely<Database>, q: VideoSearchQuery): Promise<VideoSearchPage> {
  const snapshot = q.seqAtMost ?? (await newestSeq(db));
  const words = q.words.map(wordQuery).filter((w): w is string => w !== undefined);
  const filters = searchFilters(q);
  if (words.length === 0 || !filters) return { hits: [], snapshot };
  const all = words.map((w) => `(${w})`).join(' & ');
  // A word's weight is its best column's; every hit holds every word somewhere.
  const weights: RawBuilder<unknown>[] = words.map(
    (w) =>
      sql`case ${sql.join(
        SEARCH_COLUMNS.map(
          (column) => sql`when to_tsvector('simple', ${sql.ref(`v.${column}`)}) @@ to_tsquery('simple', ${w}) then ${sql.lit(SEARCH_WEIGHTS[column])}`,
        ),
        sql` `,
      )} else 0 end`,
  );
  filters.unshift(sql`v.search_vector @@ to_tsquery('simple', ${all})`, sql`v.seq <= ${snapshot}`);
  const { rows } = await sql<VideoSearchHit & { search_vector?: unknown }>`
    select * from (
      select v.*, -(${sql.join(weights, sql` + `)}) as rank
      from videos v
      where ${sql.join(filters, sql` and `)}
    ) hits ${afterCursor(q)}
    order by rank, seq desc
    limit ${q.limit}`.execute(db);
  // search_vector is an index column, not part of the row the catalog knows; seq is a bigint (a string in pg).
  const hits = rows.map(({ search_vector: _unused, ...row }) => ({ ...row, seq: Number(row.seq), rank: Number(row.rank) }));
  return { hits, snapshot };
}

async function newestSeq(db: Kysely<Database>): Promise<number> {
  const { rows } = await sql<{ seq: string | null }>`select max(seq) as seq from videos`.execute(db);
  return Number(rows[0]?.seq ?? 0);
}
