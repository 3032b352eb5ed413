import type { Config } from '../config/schema.js';
import type { VideoCatalog } from './catalog/videos.js';
import type { Authenticator } from './http/auth.js';
import type { JobQueue } from './jobs/queue.js';
import type { Logger } from './logger.js';
import type { Origin } from './origin/origin.js';
import type { PlaybackSigner } from './origin/signing.js';
import type { PluginManager } from './plugins/plugin-manager.js';
import type { MetadataDb } from './storage/metadata-db.js';
import type { ObjectStore } from './storage/object-store.js';
import type { ObjectUrlSigner } from './storage/object-urls.js';

/** What the composition root (core/app.ts) hands to routes, uploads and job handlers. */
export interface Services {
  config: Readonly<Config>;
  logger: Logger;
  db: MetadataDb;
  store: ObjectStore;
  catalog: VideoCatalog;
  queue: JobQueue;
  auth: Authenticator;
  signer: PlaybackSigner;
  /** Signed GET/PUT URLs for single objects (presigned S3, or this node's /v1/objects/). */
  objectUrls: ObjectUrlSigner;
  /** The process's one caching origin (one cache budget for /media and /live). */
  origin: Origin;
  /** Loaded plugins: run hooks with `plugins.filter(…)` / `plugins.action(…)`. */
  plugins: PluginManager;
}
