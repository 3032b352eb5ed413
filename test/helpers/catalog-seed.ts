/**
 * Seeds videos straight into a node's SQLite database (tests of lists, search and feed that
 * need many ready videos without transcoding each; the catalog benchmark). Rows are what
 * the catalog itself writes for a ready video: the video, its published version 1 with
 * media_manifest.json and probe, and the default five-rung ladder. One transaction per call, so it is fast.
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

/** The ladder a 1080p source gets from config/default.yaml, as markReady records it. */
const LADDER = [
  { name: '240p', width: 426, height: 240, bitrate_kbps: 428, codecs: 'avc1.640015,mp4a.40.2' },
  { name: '360p', width: 640, height: 360, bitrate_kbps: 728, codecs: 'avc1.64001e,mp4a.40.2' },
  { name: '480p', width: 854, height: 480, bitrate_kbps: 1228, codecs: 'avc1.64001e,mp4a.40.2' },
  { name: '720p', width: 1280, height: 720, bitrate_kbps: 2628, codecs: 'avc1.64001f,mp4a.40.2' },
  { name: '1080p', width: 1920, height: 1080, bitrate_kbps: 4628, codecs: 'avc1.640028,mp4a.40.2' },
];

export function seedVideos(db: BetterSqlite3.Database, videos: readonly SeedVideo[]): void {
  const insert = db.prepare(
    `insert into videos (id, title, description, tags, visibility, status, current_version, latest_version, owner,
       error_code, error_message, error_retryable, created_at, updated_at, ready_at)
     values (?, ?, ?, ?, ?, ?, ?, 1, null, null, null, null, ?, ?, ?)`,
  );
  const version = db.prepare(
    `insert into versions (video_id, version, status, stage, percent, playable, source_bytes, source_filename,
       duration_ms, width, height, probe, manifest, loudness, encoder, created_at, ready_at)
     values (?, 1, ?, ?, ?, ?, 48000000, 'source.mp4', 184000, 1920, 1080, ?, ?, -16.2, 'libx264', ?, ?)`,
  );
  const rendition = db.prepare('insert into renditions (video_id, version, name, width, height, bitrate_kbps, codecs) values (?, 1, ?, ?, ?, ?, ?)');
  const probe = JSON.stringify({ container: 'mov,mp4,m4a,3gp,3g2,mj2', duration_ms: 184000, width: 1920, height: 1080, fps: 30, video_codec: 'h264', audio_codec: 'aac', rotation: 0 });
  db.transaction(() => {
    for (const v of videos) {
      const status = v.status ?? 'ready';
      const ready = status === 'ready';
      insert.run(v.id, v.title, v.description ?? '', JSON.stringify(v.tags ?? []), v.visibility ?? 'public', status, ready ? 1 : 0, v.created_at, v.created_at, ready ? v.created_at : null);
      const base = `/media/${v.id}/v1/`;
      const manifest = ready
        ? JSON.stringify({ version: 1, hls_url: `${base}master.m3u8`, dash_url: `${base}master.mpd`, poster_url: `${base}poster.jpg`, thumbnail_vtt_url: `${base}storyboard.vtt`, duration_ms: 184000, ladder: LADDER, loudness: -16.2, encoder: 'libx264' })
        : null;
      version.run(v.id, ready ? 'ready' : 'processing', ready ? 'publish' : 'transcode', ready ? 100 : 40, ready ? 1 : 0, probe, manifest, v.created_at, ready ? v.created_at : null);
      if (ready) for (const r of LADDER) rendition.run(v.id, r.name, r.width, r.height, r.bitrate_kbps, r.codecs);
    }
  })();
}

/** A batch of `view_start` events, as the player would send them to POST /v1/events. */
export function viewStarts(videoId: string, count: number, ts = Date.now()) {
  return Array.from({ length: count }, (_, i) => ({ type: 'view_start', video_id: videoId, session_id: `session-${videoId}-${i}`.slice(0, 64), ts }));
}
