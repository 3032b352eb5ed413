/**
 * Publishing a version, the one place it is done: whatever made the version's files (the
 * one-pass ladder, vod.finish over a chunked transcode, a remote runner's attempt, a live's
 * archive) left them under a staging prefix; its manifest.json goes beside them, the staging
 * prefix becomes the version's (`publishPrefix`: atomic for readers where the store can), and
 * the version's row is marked ready with its renditions, superseding older versions.
 */
import type { MediaManifest } from '../media/types.js';
import type { RenditionRow, VersionRow } from '../storage/metadata-db.js';
import { objectKeys, type ObjectStore } from '../storage/object-store.js';
import type { VideoCatalog } from './videos.js';

export interface VersionToPublish {
  videoId: string;
  version: number;
  staging: string;
  manifest: MediaManifest;
  fields: Pick<VersionRow, 'duration_ms' | 'width' | 'height' | 'loudness' | 'encoder'>;
  renditions: Omit<RenditionRow, 'video_id' | 'version'>[];
  /** Runs once manifest.json is staged, before the move (may throw to stop: e.g. the video was deleted). */
  beforeMove?: () => Promise<void> | void;
  /** Runs after the move, before the row is marked ready (may add to `manifest`, which is stored after it). */
  afterMove?: () => Promise<void>;
}

/** Publishes a fully staged version; returns the versions it superseded (see VideoCatalog.markReady). */
export async function publishVersion(deps: { store: ObjectStore; catalog: VideoCatalog }, v: VersionToPublish): Promise<{ superseded: number[] }> {
  const { store, catalog } = deps;
  await store.put(`${v.staging}manifest.json`, JSON.stringify(v.manifest, null, 2));
  await v.beforeMove?.();
  const finalPrefix = objectKeys.media(v.videoId, v.version);
  await store.deletePrefix(finalPrefix);
  await store.publishPrefix(v.staging, finalPrefix);
  await v.afterMove?.();
  return catalog.markReady(v.videoId, v.version, { ...v.fields, manifest: JSON.stringify(v.manifest) }, v.renditions);
}
