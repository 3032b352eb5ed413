/**
 * The consistency check behind `framecast fsck`: compares what the object store holds with
 * what the metadata database says should exist.
 *
 * Safe while nodes run:
 *  - Objects are listed before rows are read. Rows are always written before their objects
 *    (a version before its staging, a session before its upload), so an object whose row
 *    is missing at read time had its row deleted: it is really an orphan.
 *  - Nothing younger than `graceMs` is ever called an orphan or abandoned (a copy or an
 *    upload may be in flight), staging of a version that is processing is owned by it, and
 *    a tus upload is abandoned only once its session expired (or it has none).
 *  - `fix` only deletes orphans and abandoned uploads; it never changes rows.
 */
import type { MetadataDb } from '../storage/metadata-db.js';
import type { ObjectInfo, ObjectStore } from '../storage/object-store.js';

/** Why an object (or a group of them under one prefix) is not owned by any row. */
export type OrphanReason = 'no-version' | 'not-processing' | 'no-live' | 'no-session' | 'session-expired' | 'session-completed';

/** Objects under one owner prefix that nothing owns. */
export interface OrphanGroup {
  /** Key prefix (a folder) or one key (tus uploads). */
  prefix: string;
  reason: OrphanReason;
  keys: string[];
  bytes: number;
}

/** A row whose objects are missing. */
export interface MissingObjects {
  table: 'versions' | 'upload_sessions';
  /** Identifies the row: `video/vN` or the upload id. */
  row: string;
  missing: string[];
}

/** A multipart upload that was never completed. */
export interface AbandonedUpload {
  key: string;
  uploadId: string;
  bytes: number;
  reason: 'no-session' | 'session-expired' | 'stale';
}

export interface ConsistencyReport {
  /** Objects looked at (all of them). */
  objects: number;
  orphans: OrphanGroup[];
  missing: MissingObjects[];
  abandonedUploads: AbandonedUpload[];
  /** Objects under prefixes this build does not know; reported, never touched. */
  unknown: string[];
  /** Filled by `fix`: what was removed. */
  fixed?: { objects: number; uploads: number; bytes: number };
}

export interface CheckOptions {
  /** Objects and uploads younger than this are left alone (default one hour). */
  graceMs?: number;
  now?: number;
}

const DEFAULT_GRACE_MS = 60 * 60 * 1000;
/** `media/ID/vN/…`, `staging/ID/vN/…`, `sources/ID/vN/…` */
const VERSIONED = /^(media|staging|sources)\/([A-Za-z0-9_-]+)\/v(\d+)\//;
const LIVE = /^live\/([A-Za-z0-9_-]+)\//;
const TUS = /^tus\/([A-Za-z0-9_-]+)(\.[a-z]+)?$/;

function groupOf(groups: Map<string, OrphanGroup>, prefix: string, reason: OrphanReason, info: ObjectInfo): void {
  const group = groups.get(prefix) ?? { prefix, reason, keys: [], bytes: 0 };
  group.keys.push(info.key);
  group.bytes += info.size;
  groups.set(prefix, group);
}

/** Reads everything and reports; changes nothing. */
export async function checkConsistency(db: MetadataDb, store: ObjectStore, opts: CheckOptions = {}): Promise<ConsistencyReport> {
  const now = opts.now ?? Date.now();
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  // Objects first, rows after (see the module comment).
  const objects = await store.list('');
  const incomplete = (await store.listIncompleteUploads?.('')) ?? [];

  const versions = await db.db.selectFrom('versions').select(['video_id', 'version', 'status', 'media_removed_at']).execute();
  const sessions = await db.db.selectFrom('upload_sessions').select(['id', 'expires_at', 'completed_at', 'created_at']).execute();
  const lives = await db.db.selectFrom('lives').select('id').execute();
  const versionStatus = new Map(versions.map((v) => [`${v.video_id}/v${v.version}`, v.status]));
  const sessionById = new Map(sessions.map((s) => [s.id, s]));
  const liveIds = new Set(lives.map((l) => l.id));

  const sessionProblem = (id: string): 'no-session' | 'session-expired' | 'session-completed' | undefined => {
    const session = sessionById.get(id);
    if (!session) return 'no-session';
    if (session.completed_at !== null) return session.completed_at + graceMs < now ? 'session-completed' : undefined;
    return session.expires_at < now ? 'session-expired' : undefined;
  };

  const groups = new Map<string, OrphanGroup>();
  const unknown: string[] = [];
  const keys = new Set<string>();
  for (const info of objects) {
    keys.add(info.key);
    if (info.mtimeMs + graceMs > now) continue;
    const versioned = VERSIONED.exec(info.key);
    if (versioned) {
      const [prefix, area, videoId, n] = versioned as unknown as [string, string, string, string];
      const status = versionStatus.get(`${videoId}/v${n}`);
      if (status === undefined) groupOf(groups, prefix, 'no-version', info);
      else if (area === 'staging' && status !== 'processing') groupOf(groups, prefix, 'not-processing', info);
      continue;
    }
    const live = LIVE.exec(info.key);
    if (live) {
      if (!liveIds.has(live[1] ?? '')) groupOf(groups, live[0], 'no-live', info);
      continue;
    }
    const tus = TUS.exec(info.key);
    if (tus) {
      const problem = sessionProblem(tus[1] ?? '');
      if (problem) groupOf(groups, `tus/${tus[1]}`, problem, info);
      continue;
    }
    unknown.push(info.key);
  }

  const missing: MissingObjects[] = [];
  for (const v of versions) {
    // A replaced version whose media the sweep removed after its grace period owns none.
    if (v.status !== 'ready' || v.media_removed_at !== null) continue;
    const base = `media/${v.video_id}/v${v.version}/`;
    const absent = ['master.m3u8', 'manifest.json'].filter((f) => !keys.has(base + f));
    if (absent.length) missing.push({ table: 'versions', row: `${v.video_id}/v${v.version}`, missing: absent.map((f) => base + f) });
  }
  const tusIds = new Set([...objects.map((o) => TUS.exec(o.key)?.[1]), ...incomplete.map((u) => TUS.exec(u.key)?.[1])]);
  for (const s of sessions) {
    if (s.completed_at !== null || s.expires_at < now || s.created_at + graceMs > now || tusIds.has(s.id)) continue;
    missing.push({ table: 'upload_sessions', row: s.id, missing: [store.tusUploadKey(s.id)] });
  }

  const abandonedUploads: AbandonedUpload[] = [];
  for (const u of incomplete) {
    if (u.initiatedMs + graceMs > now) continue;
    const tus = TUS.exec(u.key);
    const problem = tus ? sessionProblem(tus[1] ?? '') : 'stale';
    if (problem === 'no-session' || problem === 'session-expired' || problem === 'stale') {
      abandonedUploads.push({ key: u.key, uploadId: u.uploadId, bytes: u.size, reason: problem });
    }
  }

  return { objects: objects.length, orphans: [...groups.values()], missing, abandonedUploads, unknown };
}

/** Removes what `report` found orphaned or abandoned; returns the report with `fixed` filled. */
export async function fixConsistency(store: ObjectStore, report: ConsistencyReport): Promise<ConsistencyReport> {
  let objects = 0;
  let bytes = 0;
  for (const group of report.orphans) {
    // Per key, not per prefix: an object written after the check is never swept along.
    for (const key of group.keys) await store.delete(key);
    objects += group.keys.length;
    bytes += group.bytes;
  }
  for (const u of report.abandonedUploads) {
    await store.abortIncompleteUpload?.(u.key, u.uploadId);
    bytes += u.bytes;
  }
  return { ...report, fixed: { objects, uploads: report.abandonedUploads.length, bytes } };
}

/** True when the report found nothing to fix or repair. */
export function isClean(report: ConsistencyReport): boolean {
  return report.orphans.length === 0 && report.missing.length === 0 && report.abandonedUploads.length === 0;
}
