/**
 * Full-text search on SQLite: the FTS5 index `videos_fts` (migration 0004) over title,
 * description and tags. Every word typed must match; each matches as a prefix ("harb" finds
 * "harbor"), and a word with inner punctuation is a phrase ("pure_fun" = "pure fun*").
 * The rank and its order are search-rank.ts's; `seq` is the video's rowid, the index's own
 * row order.
 *
 * Why tiers: a common word matches a large share of a big catalog, and ranking every match
 * to return 20 of them costs time in proportion to the matches (~0.5 s for a word in 1M
 * rows). Instead a page reads rank tier by rank tier, best first; each tier is one FTS5 query
 * that says exactly which rows hold that rank ("pasta" best in tags = `tags : pasta NOT
 * title : pasta`), walked newest first by rowid, which FTS5 does in index order and stops
 * at the LIMIT. A page then costs about its own length, plus a scan of each tier it finds
 * (nearly) empty. Past `MAX_TIERED_WORDS` words the tiers multiply (3^words) while the
 * matches shrink, so such queries rank all matches in one statement instead.
 *
 * The rowid is the implicit one: Framecast never runs VACUUM, which may renumber it (and
 * would break the external-content index with it).
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database, VideoSearchHit, VideoSearchPage, VideoSearchQuery } from '../../core/storage/metadata-db.js';
import { afterCursor, rankTiers, SEARCH_COLUMNS, SEARCH_WEIGHTS, searchFilters, type SearchColumn } from './search-rank.js';

const MAX_TIERED_WORDS = 3;

/** Each searchable word as an FTS5 prefix phrase (words without letters or digits are dropped). */
function phrases(words: readonly string[]): string[] {
  return words.filter((w) => /[\p{L}\p{N}]/u.test(w)).map((w) => `"${w.replace(/"/g, '""')}"*`);
}

/** Rows where `phrase` occurs best in `column`: there, and in no column weighing more. */
function bestIn(phrase: string, column: SearchColumn): string {
  const better = SEARCH_COLUMNS.slice(0, SEARCH_COLUMNS.indexOf(column)).map((c) => `${c} : ${phrase}`);
  return better.length === 0 ? `${column} : ${phrase}` : `(${column} : ${phrase} NOT (${better.join(' OR ')}))`;
}

/** The MATCH expression of one rank tier: any of its combinations of best columns. */
function tierExpression(words: readonly string[], combos: readonly SearchColumn[][]): string {
  return combos.map((combo) => `(${combo.map((column, i) => bestIn(words[i]!, column)).join(' AND ')})`).join(' OR ');
}

export async function searchVideosFts(db: Kysely<Database>, q: VideoSearchQuery): Promise<VideoSearchPage> {
  const snapshot = q.seqAtMost ?? (await newestSeq(db));
  const words = phrases(q.words);
  const filters = searchFilters(q);
  if (words.length === 0 || !filters) return { hits: [], snapshot };
  const where = filters.length > 0 ? sql`and ${sql.join(filters, sql` and `)}` : sql``;
  if (words.length > MAX_TIERED_WORDS) return { hits: await rankAll(db, words, q, snapshot, where), snapshot };

  const hits: VideoSearchHit[] = [];
  for (const tier of rankTiers(words.length)) {
    if (q.after && tier.rank < q.after.rank) continue;
    const below = q.after && tier.rank === q.after.rank ? q.after.seq - 1 : snapshot;
    const { rows } = await sql<VideoSearchHit>`
      select v.*, v.rowid as seq, ${sql.lit(tier.rank)} as rank
      from videos_fts f join videos v on v.rowid = f.rowid
      where videos_fts match ${tierExpression(words, tier.combos)} and f.rowid <= ${below} ${where}
      order by f.rowid desc
      limit ${q.limit - hits.length}`.execute(db);
    hits.push(...rows);
    if (hits.length >= q.limit) break;
  }
  return { hits, snapshot };
}

async function newestSeq(db: Kysely<Database>): Promise<number> {
  const { rows } = await sql<{ seq: number | null }>`select max(rowid) as seq from videos`.execute(db);
  return rows[0]?.seq ?? 0;
}

/** Ranks every match in one statement (queries of many words, whose matches are few). */
async function rankAll(db: Kysely<Database>, words: readonly string[], q: VideoSearchQuery, snapshot: number, where: RawBuilder<unknown>): Promise<VideoSearchHit[]> {
  // Per word and column: does the word occur there? Each is one FTS lookup, materialized
  // once and joined by rowid (an IN subquery here would be run again for every hit).
  const lookups = words.flatMap((phrase, w) => SEARCH_COLUMNS.map((column) => ({ name: `w${w}${column}`, expr: `${column} : ${phrase}` })));
  const ctes = sql.join(
    lookups.map((l) => sql`${sql.ref(l.name)} as materialized (select rowid as r from videos_fts where videos_fts match ${l.expr})`),
    sql`, `,
  );
  const joins = sql.join(lookups.map((l) => sql`left join ${sql.ref(l.name)} on ${sql.ref(`${l.name}.r`)} = hits.r`), sql` `);
  // A word's weight is its best column's; every hit holds every word somewhere.
  const weight = (w: number) =>
    sql`case ${sql.join(
      SEARCH_COLUMNS.map((column) => sql`when ${sql.ref(`w${w}${column}.r`)} is not null then ${sql.lit(SEARCH_WEIGHTS[column])}`),
      sql` `,
    )} else 0 end`;
  const { rows } = await sql<VideoSearchHit>`
    with hits as materialized (select rowid as r from videos_fts where videos_fts match ${words.join(' AND ')} and rowid <= ${snapshot}), ${ctes}
    select * from (
      select v.*, v.rowid as seq, -(${sql.join(words.map((_, w) => weight(w)), sql` + `)}) as rank
      from hits join videos v on v.rowid = hits.r ${joins}
      where 1 ${where}
    ) ${afterCursor(q)}
    order by rank, seq desc
    limit ${q.limit}`.execute(db);
  return rows;
}
