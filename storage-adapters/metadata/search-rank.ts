/**
 * What full-text search shares across databases: the rank (per word, title 10, tags 4,
 * description 1; smaller ranks first, newest first among equals) and the filters and cursor
 * of a page. Only how a word is matched differs (FTS5 on SQLite, tsvector on PostgreSQL).
 */
import { sql, type RawBuilder } from 'kysely';
import type { VideoSearchQuery } from '../../core/storage/metadata-db.js';

/** Column weights of the rank. */
export const SEARCH_WEIGHTS = { title: 10, tags: 4, description: 1 } as const;
export type SearchColumn = keyof typeof SEARCH_WEIGHTS;
export const SEARCH_COLUMNS = Object.keys(SEARCH_WEIGHTS) as SearchColumn[];

/** The page's row filters on alias `v`; undefined when nothing can match. */
export function searchFilters(q: VideoSearchQuery): RawBuilder<unknown>[] | undefined {
  const filters = [sql`v.created_at <= ${q.createdAtMost}`];
  if (q.owner !== undefined) filters.push(sql`v.owner = ${q.owner}`);
  if (q.status !== undefined) filters.push(sql`v.status = ${q.status}`);
  if (q.visibilities !== undefined) {
    if (q.visibilities.length === 0) return undefined;
    filters.push(sql`v.visibility in (${sql.join(q.visibilities)})`);
  }
  return filters;
}

/** Continues after the cursor's hit in (rank, created_at desc, id desc) order. */
export function afterCursor(q: VideoSearchQuery): RawBuilder<unknown> {
  return q.after
    ? sql`where rank > ${q.after.rank} or (rank = ${q.after.rank} and (created_at < ${q.after.created_at} or (created_at = ${q.after.created_at} and id < ${q.after.id})))`
    : sql``;
}
