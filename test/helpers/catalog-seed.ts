/**
 * Seeds videos straight into a node's SQLite database (tests of lists, search and feed that
 * need many ready videos without transcoding each; the catalog benchmark). Rows are what
 * the catalog itself writes for a ready video; one transaction per call, so it is fast.
 */
import BetterSqlite3 from 'better-sqlite3';

export interface SeedVideo {
  id: string;
  title: string;
  description?: string;
  tags?: string[];
  visibility?: 'public' | 'unlisted' | 'private';
  status?: 'ready' | 'processing';
  created_at: number;
}

export function openSeedDb(file: string): BetterSqlite3.Database {
  const db = new BetterSqlite3(file);
  db.pragma('busy_timeout = 5000');
  return db;
}

export function seedVideos(db: BetterSqlite3.Database, videos: readonly SeedVideo[]): void {
  const insert = db.prepare(
    `insert into videos (id, title, description, tags, visibility, status, current_version, latest_version, owner,
       error_code, error_message, error_retryable, created_at, updated_at, ready_at)
     values (?, ?, ?, ?, ?, ?, 0, 0, null, null, null, null, ?, ?, ?)`,
  );
  db.transaction(() => {
    for (const v of videos) {
      const status = v.status ?? 'ready';
      insert.run(v.id, v.title, v.description ?? '', JSON.stringify(v.tags ?? []), v.visibility ?? 'public', status, v.created_at, v.created_at, status === 'ready' ? v.created_at : null);
    }
  })();
}

/** A batch of `view_start` events, as the player would send them to POST /v1/events. */
export function viewStarts(videoId: string, count: number, ts = Date.now()) {
  return Array.from({ length: count }, (_, i) => ({ type: 'view_start', video_id: videoId, session_id: `session-${videoId}-${i}`.slice(0, 64), ts }));
}
