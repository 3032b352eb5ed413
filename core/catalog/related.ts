/**
 * Related videos (API.md "related, embed": `GET /v1/videos/:id/related`): what the watch page
 * lists beside a video. Ready public videos only, never the video itself.
 *
 * Candidates come from the search index, one search per term of the video (each of its tags,
 * each distinctive word of its title), so both dialects' full-text indexes (and the substring
 * fallback) find them without a query of their own. Candidates are then ranked here, on the
 * rows: a shared tag (the same tag, case aside) weighs most, a shared title word less, a term
 * found only in the description least; newest first among equals. The rest of the list is
 * the trending feed's order (core/catalog/feed.ts), so a video without tags still gets one.
 */
import type { VideoRow, Visibility } from '../storage/metadata-db.js';
import type { TrendingFeed } from './feed.js';
import type { VideoCatalog } from './videos.js';

/** Terms searched per video, per kind (tags, title words): each is one indexed search. */
const MAX_TERMS = 6;
/** Candidates read per term. */
const PER_TERM = 20;
const WEIGHT = { sharedTag: 10, sharedTitleWord: 3, otherMatch: 1 } as const;
const PUBLIC: Visibility[] = ['public'];

/** Words too common to say two titles are about the same thing (English; others pass through). */
const STOP_WORDS = new Set(
  'the and for with from this that are was were not but you your our how what why when who into onto over about part video official new'.split(' '),
);

/** The distinctive words of a title, lower-cased, in order, without repeats. */
export function titleWords(title: string): string[] {
  const words = title.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words.filter((w) => w.length >= 3 && !STOP_WORDS.has(w) && !/^\d+$/.test(w)))];
}

function tagSet(row: Pick<VideoRow, 'tags'>): Set<string> {
  try {
    const tags = JSON.parse(row.tags) as unknown;
    return new Set(Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string').map((t) => t.toLowerCase()) : []);
  } catch {
    return new Set();
  }
}

/** How related `other` is to a video with these tags and title words (0: nothing shared). */
export function relatedness(tags: ReadonlySet<string>, words: ReadonlySet<string>, other: Pick<VideoRow, 'tags' | 'title'>): number {
  let score = 0;
  for (const tag of tagSet(other)) if (tags.has(tag)) score += WEIGHT.sharedTag;
  for (const word of titleWords(other.title)) if (words.has(word)) score += WEIGHT.sharedTitleWord;
  return score;
}

export class RelatedVideos {
  constructor(
    private readonly catalog: Pick<VideoCatalog, 'search'>,
    private readonly feed: Pick<TrendingFeed, 'page'>,
  ) {}

  /** Up to `limit` videos related to `video`, most related first, then trending. */
  async list(video: Pick<VideoRow, 'id' | 'tags' | 'title'>, limit: number): Promise<VideoRow[]> {
    const tags = tagSet(video);
    const words = titleWords(video.title);
    const terms = [...new Set([...[...tags].slice(0, MAX_TERMS), ...words.slice(0, MAX_TERMS)])];
    const found = new Map<string, { row: VideoRow; score: number }>();
    for (const term of terms) {
      // A tag of several words ("open source") is a search for all of them.
      const termWords = term.split(/\s+/).filter(Boolean);
      const { items } = await this.catalog.search({ words: termWords, limit: PER_TERM, status: 'ready', visibilities: PUBLIC });
      for (const row of items) {
        if (row.id === video.id) continue;
        const seen = found.get(row.id);
        if (seen) seen.score += WEIGHT.otherMatch;
        else found.set(row.id, { row, score: relatedness(tags, new Set(words), row) + WEIGHT.otherMatch });
      }
    }
    const ranked = [...found.values()]
      .sort((a, b) => b.score - a.score || b.row.created_at - a.row.created_at || (a.row.id < b.row.id ? 1 : -1))
      .map((r) => r.row)
      .slice(0, limit);
    if (ranked.length < limit) {
      const taken = new Set([video.id, ...ranked.map((r) => r.id)]);
      const { items } = await this.feed.page({ limit: limit + taken.size, visibilities: PUBLIC });
      for (const row of items) {
        if (ranked.length >= limit) break;
        if (!taken.has(row.id)) ranked.push(row);
      }
    }
    return ranked;
  }
}
