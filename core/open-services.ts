/**
 * Opening a process's services: the storage adapters picked by URL scheme (each imported only
 * when its scheme is configured) and the services every role shares. Kept apart from app.ts,
 * which starts the roles, so that the supervisor and the CLI load only this (about half the
 * modules: no HTTP server, media pipeline or live ingest), which shortens every node start.
 */
import { pathToFileURL } from 'node:url';
import type { Config } from '../config/schema.js';
import { pathUnderDataDir } from '../config/load.js';
import { VideoCatalog } from './catalog/videos.js';
import { currentRole } from './cluster.js';
import { Authenticator, ensureAdminToken, ensureSigningSecret } from './http/auth.js';
import { JobQueue } from './jobs/queue.js';
import { announceQueuedJob } from './jobs/wake.js';
import type { Logger } from './logger.js';
import { createOrigin } from './origin/origin.js';
import { liveUpdates } from './origin/live-updates.js';
import { PlaybackSigner } from './origin/signing.js';
import type { PluginRole } from './plugins/plugin-api.js';
import { PluginManager } from './plugins/plugin-manager.js';
import type { Services } from './services.js';
import type { MetadataDb, MetadataDbFactory } from './storage/metadata-db.js';
import type { ObjectStore, ObjectStoreFactory } from './storage/object-store.js';
import { ObjectUrlSigner } from './storage/object-urls.js';

/** Object-store adapters by URL scheme (loaded lazily: only the one in use is imported). */
const objectStores: Record<string, () => Promise<{ default: ObjectStoreFactory }>> = {
  'file:': () => import('../storage-adapters/objects/fs.js'),
  's3:': () => import('../storage-adapters/objects/s3.js'),
};

/** Metadata adapters by URL scheme. */
const metadataDbs: Record<string, () => Promise<{ default: MetadataDbFactory }>> = {
  'sqlite:': () => import('../storage-adapters/metadata/sqlite.js'),
  'postgres:': () => import('../storage-adapters/metadata/postgres.js'),
  'postgresql:': () => import('../storage-adapters/metadata/postgres.js'),
};

export async function openObjectStore(cfg: Readonly<Config>): Promise<ObjectStore> {
  const url = cfg.storage.url.startsWith('file:') ? pathToFileURL(pathUnderDataDir(cfg, cfg.storage.url.slice(5))) : new URL(cfg.storage.url);
  const load = objectStores[url.protocol];
  if (!load) throw new Error(`storage.url: no adapter for "${url.protocol}" (this build has: ${Object.keys(objectStores).join(', ')})`);
  return (await load()).default(url, { dataDir: cfg.data_dir });
}

export async function openMetadataDb(cfg: Readonly<Config>): Promise<MetadataDb> {
  const scheme = `${cfg.db.url.split(':')[0]}:`;
  const load = metadataDbs[scheme];
  if (!load) throw new Error(`db.url: no adapter for "${scheme}" (this build has: ${Object.keys(metadataDbs).join(', ')})`);
  return (await load()).default(cfg.db.url, { dataDir: cfg.data_dir });
}

export async function openServices(config: Readonly<Config>, logger: Logger, role: PluginRole = currentRole() ?? 'http'): Promise<Services> {
  const db = await openMetadataDb(config);
  const store = await openObjectStore(config);
  // Every process that fires hooks (HTTP: uploads, playback, routes; media: processing, live) loads the plugins.
  const plugins = new PluginManager({ logger, role, db: db.db });
  // Live playlist changes reach every process of the node (blocking LL-HLS reloads), and
  // with a shared database every api node: the media process sends, HTTP processes listen.
  liveUpdates.joinCluster();
  if (db.openUpdateChannel) liveUpdates.use(await db.openUpdateChannel((key) => liveUpdates.deliver(key), { listen: role === 'http' }));
  await plugins.load(config.plugins);
  return {
    config,
    logger,
    db,
    store,
    catalog: new VideoCatalog(db.db, Date.now, db, config.public_url),
    queue: new JobQueue(db, { ...config.jobs, onEnqueued: announceQueuedJob }),
    auth: new Authenticator(ensureAdminToken(config), db.db),
    signer: new PlaybackSigner(ensureSigningSecret(config)),
    objectUrls: new ObjectUrlSigner(ensureSigningSecret(config), store),
    origin: createOrigin(store, config),
    plugins,
  };
}

export async function closeServices(s: Services): Promise<void> {
  await liveUpdates.close();
  await s.plugins.close();
  await s.store.close?.();
  await s.db.close();
}
