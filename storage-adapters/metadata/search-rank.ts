/**
 * What full-text search shares across databases: the rank, the filters and the cursor of a
 * page. Only how a word is matched differs (FTS5 on SQLite, tsvector on PostgreSQL).
 *
 * The rank: each word counts with the weight of the best column it occurs in (title 10, tags
 * 4, description 1), summed over the words; smaller ranks first (the negated sum, as SQLite's
 * bm25()), newest first among equals. It deliberately leaves out bm25's corpus statistics
 * (document frequencies, average lengths): those change with every insert, so a bm25 order
 * shifts between two page requests and a cursor would repeat or skip results. A row's rank
 * depends on the row alone, so pages are exact.
 *
 * "Newest" is the insertion sequence (`seq`), not `created_at`: it is unique, it only grows,
 * and it is the order the SQLite index keeps its rows in, which lets a page stop after its
 * last row instead of ranking every match (see `rankTiers`).
 */
import { sql, type RawBuilder } from 'kysely';
import type { VideoSearchQuery } from '../../core/storage/metadata-db.js';

/** Column weights of the rank, best first. */
export const SEARCH_WEIGHTS = { title: 10, tags: 4, description: 1 } as const;
export type SearchColumn = keyof typeof SEARCH_WEIGHTS;
export const SEARCH_COLUMNS = Object.keys(SEARCH_WEIGHTS) as SearchColumn[];

/**
 * The ranks a query of `words` words can give, best (smallest) first, each with every way of
 * reaching it: for each word, the best column it occurs in. A row falls in exactly one of
 * them, so a page can be read tier by tier, each tier newest first, and stop when full.
 */
export function rankTiers(words: number): { rank: number; combos: SearchColumn[][] }[] {
  let combos: SearchColumn[][] = [[]];
  for (let i = 0; i < words; i++) combos = combos.flatMap((c) => SEARCH_COLUMNS.map((column) => [...c, column]));
  const tiers = new Map<number, SearchColumn[][]>();
  for (const combo of combos) {
    const rank = -combo.reduce((sum, column) => sum + SEARCH_WEIGHTS[column], 0);
    tiers.set(rank, [...(tiers.get(rank) ?? []), combo]);
  }
  return [...tiers.entries()].sort(([a], [b]) => a - b).map(([rank, c]) => ({ rank, combos: c }));
}

/** The page's row filters on alias `v`; undefined when nothing can match. */
export function searchFilters(q: VideoSearchQuery): RawBuilder<unknown>[] | undefined {
  const filters: RawBuilder<unknown>[] = [];
  if (q.owner !== undefined) filters.push(sql`v.owner = ${q.owner}`);
  if (q.status !== undefined) filters.push(sql`v.status = ${q.status}`);
  if (q.visibilities !== undefined) {
    if (q.visibilities.length === 0) return undefined;
    filters.push(sql`v.visibility in (${sql.join(q.visibilities)})`);
  }
  return filters;
}

/** Continues after the cursor's hit in (rank, seq desc) order, on the columns `rank` and `seq`. */
export function afterCursor(q: VideoSearchQuery): RawBuilder<unknown> {
  return q.after ? sql`where rank > ${q.after.rank} or (rank = ${q.after.rank} and seq < ${q.after.seq})` : sql``;
}
