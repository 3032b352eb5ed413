/**
 * The per-request metadata a media route needs (does the video exist, who may see it, is
 * the version ready or playable) without a database round trip per segment: lookups are
 * cached for a short TTL (`origin.lookup_ttl_ms`, at most 2 s) so deletes and visibility
 * changes take effect quickly, and concurrent lookups of one key share one query.
 */
import { LRUCache } from 'lru-cache';
import type { VideoCatalog } from '../catalog/videos.js';
import type { VideoRow } from '../storage/metadata-db.js';

/** What the origin needs to know about a video. */
export interface VideoAccess {
  visibility: VideoRow['visibility'];
}

/** What the origin needs to know about one version of a video. */
export interface VersionAccess {
  /** Published under its immutable prefix. */
  ready: boolean;
  /** Still processing, but its first segments are already in staging (instant publish). */
  playable: boolean;
  /** When a newer version replaced it (epoch ms); it is served `versions.grace_s` longer. */
  supersededAt: number | null;
}

/** Negative answers are cached too: a wrapper, since the cache cannot hold undefined. */
interface Lookup<T> {
  value: T | undefined;
}

const MAX_ENTRIES = 20_000;

export class MediaAccessCache {
  private readonly videos: LRUCache<string, Lookup<VideoAccess>> | undefined;
  private readonly versions: LRUCache<string, Lookup<VersionAccess>> | undefined;

  constructor(
    private readonly catalog: Pick<VideoCatalog, 'find' | 'version'>,
    ttlMs: number,
  ) {
    if (ttlMs <= 0) return;
    this.videos = new LRUCache<string, Lookup<VideoAccess>>({
      max: MAX_ENTRIES,
      ttl: ttlMs,
      fetchMethod: async (id) => ({ value: await this.loadVideo(id) }),
    });
    this.versions = new LRUCache<string, Lookup<VersionAccess>>({
      max: MAX_ENTRIES,
      ttl: ttlMs,
      fetchMethod: async (key) => {
        const [id, n] = key.split('/');
        return { value: await this.loadVersion(id!, Number(n)) };
      },
    });
  }

  async video(id: string): Promise<VideoAccess | undefined> {
    if (!this.videos) return this.loadVideo(id);
    return (this.videos.get(id) ?? (await this.videos.fetch(id)))?.value;
  }

  async version(id: string, version: number): Promise<VersionAccess | undefined> {
    if (!this.versions) return this.loadVersion(id, version);
    const key = `${id}/${version}`;
    return (this.versions.get(key) ?? (await this.versions.fetch(key)))?.value;
  }

  /**
   * How much longer the cached answers for a video and version stay unchecked (the least of
   * both); 0 when either is not cached or caching is off. Whatever is derived from them may
   * be reused for this long without delaying a change past the lookup TTL.
   */
  freshForMs(id: string, version: number): number {
    if (!this.videos || !this.versions) return 0;
    const remaining = Math.min(this.videos.getRemainingTTL(id), this.versions.getRemainingTTL(`${id}/${version}`));
    return Number.isFinite(remaining) && remaining > 0 ? remaining : 0;
  }

  private async loadVideo(id: string): Promise<VideoAccess | undefined> {
    const row = await this.catalog.find(id);
    return row && { visibility: row.visibility };
  }

  private async loadVersion(id: string, version: number): Promise<VersionAccess | undefined> {
    const row = await this.catalog.version(id, version);
    return row && { ready: row.status === 'ready', playable: row.playable === 1, supersededAt: row.superseded_at === null ? null : Number(row.superseded_at) };
  }
}
