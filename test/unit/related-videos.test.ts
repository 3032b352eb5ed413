/** Related videos (core/catalog/related.ts): shared tags first, then title words, then trending. */
import t from 'tap';
import { RelatedVideos, titleWords } from '../../core/catalog/related.js';
import type { SearchQuery } from '../../core/catalog/videos.js';
import type { VideoRow } from '../../core/storage/metadata-db.js';

function row(id: string, title: string, tags: string[], created_at: number, description = ''): VideoRow {
  return {
    id, title, description, tags: JSON.stringify(tags), visibility: 'public', status: 'ready', current_version: 1, latest_version: 1,
    owner: null, error_code: null, error_message: null, error_retryable: null, created_at, updated_at: created_at, ready_at: created_at,
    priority: 'normal', chapters: null, text_tracks: null, clip_of: null, clip_start_ms: null, clip_end_ms: null, poster: null, watermark: null,
  };
}

const videos = [
  row('self', 'Harbor sunset timelapse', ['harbor', 'Timelapse'], 1),
  row('newer-title', 'Sunset in the city', [], 9),
  row('tag', 'Boats', ['HARBOR'], 2),
  row('two-tags', 'Quiet morning', ['harbor', 'timelapse'], 3),
  row('described', 'Something else', [], 8, 'filmed at the harbor'),
  row('trending', 'Cooking', ['food'], 7),
];

/** The search seam as the catalog offers it: every word in title, description or tags (substrings). */
const searched: SearchQuery[] = [];
const catalog = {
  async search(q: SearchQuery) {
    searched.push(q);
    const items = videos.filter((v) => q.words.every((w) => `${v.title} ${v.description} ${v.tags}`.toLowerCase().includes(w)));
    return { items: items.slice(0, q.limit), next_cursor: null };
  },
};
const feed = { async page(q: { limit: number }) { return { items: [videos[5]!, videos[0]!, videos[2]!].slice(0, q.limit), next_cursor: null }; } };

t.test('title words: distinctive, lower-cased, once', async (t) => {
  t.same(titleWords('The Harbor at Sunset: the HARBOR, 2024 (part 2)'), ['harbor', 'sunset']);
});

t.test('ranking: two shared tags, one shared tag, a title word, the description, then trending', async (t) => {
  const related = new RelatedVideos(catalog, feed);
  const list = await related.list(videos[0]!, 10);
  t.same(list.map((v) => v.id), ['two-tags', 'tag', 'newer-title', 'described', 'trending']);
  t.ok(searched.every((q) => q.status === 'ready' && q.visibilities?.join() === 'public'), 'only ready public videos are searched');
  t.same((await related.list(videos[0]!, 2)).map((v) => v.id), ['two-tags', 'tag'], 'limit');
});
