/**
 * Full-text search on SQLite: the FTS5 index `videos_fts` (migration 0004) over title,
 * description and tags, ranked by bm25 with title matches weighing most, then tags, then
 * description. Every word typed must match; each matches as a prefix ("harb" finds
 * "harbor"), and a word with inner punctuation is a phrase ("pure_fun" = "pure fun*").
 */
import { sql, type Kysely } from 'kysely';
import type { Database, VideoSearchHit, VideoSearchQuery } from '../../core/storage/metadata-db.js';

/** bm25 column weights, in the index's column order: title, description, tags. */
const WEIGHTS = sql.raw('10.0, 1.0, 4.0');

/** The FTS5 MATCH expression for the words; undefined when no word has a searchable character. */
export function ftsExpression(words: readonly string[]): string | undefined {
  const phrases = words.filter((w) => /[\p{L}\p{N}]/u.test(w)).map((w) => `"${w.replace(/"/g, '""')}"*`);
  return phrases.length > 0 ? phrases.join(' AND ') : undefined;
}

export async function searchVideosFts(db: Kysely<Database>, q: VideoSearchQuery): Promise<VideoSearchHit[]> {
  const match = ftsExpression(q.words);
  if (match === undefined) return [];
  const filters = [sql`v.created_at <= ${q.createdAtMost}`];
  if (q.owner !== undefined) filters.push(sql`v.owner = ${q.owner}`);
  if (q.status !== undefined) filters.push(sql`v.status = ${q.status}`);
  if (q.visibilities !== undefined) {
    if (q.visibilities.length === 0) return [];
    filters.push(sql`v.visibility in (${sql.join(q.visibilities)})`);
  }
  const after = q.after
    ? sql`where rank > ${q.after.rank} or (rank = ${q.after.rank} and (created_at < ${q.after.created_at} or (created_at = ${q.after.created_at} and id < ${q.after.id})))`
    : sql``;
  const { rows } = await sql<VideoSearchHit>`
    select * from (
      select v.*, bm25(videos_fts, ${WEIGHTS}) as rank
      from videos_fts join videos v on v.rowid = videos_fts.rowid
      where videos_fts match ${match} and ${sql.join(filters, sql` and `)}
    ) ${after}
    order by rank, created_at desc, id desc
    limit ${q.limit}`.execute(db);
  return rows;
}
