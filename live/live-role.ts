/**
 * The live role of the media process: the RTMP ingest, one LiveBroadcast per live on air,
 * and the archive of recorded lives. Started by core/app.ts when `roles` includes `live`.
 *
 * Lives are created and revoked by the HTTP processes (other processes): the media process
 * learns of a revocation by polling the rows of the lives it runs. A media process that
 * stopped during a broadcast (crashed, or restarted by an upgrade) leaves its lives on air:
 * the next one takes each over from its packager's journal and waits for the publisher to
 * reconnect, as after a dropped connection (LiveBroadcast.takeOver). A live without a
 * journal (nothing was published yet) is ended, and the error says why. Lives whose work
 * dir is not on this node are another node's (a shared database) and left alone.
 */
import type { WatermarkSpec } from '../core/media/watermark.js';
import { jobPriority, type PriorityInput } from '../core/jobs/priority.js';
import { stat } from 'node:fs/promises';
import type { VideoEncoder } from '../core/media/types.js';
import type { Services } from '../core/services.js';
import type { IngestHandler, IngestProtocol, IngestPublisher, LiveIngest } from '../core/live/ingest.js';
import { liveObjectKey } from '../core/live/live-locations.js';
import { LiveStore } from '../core/live/live-store.js';
import type { Logger } from '../core/logger.js';
import type { LiveRow } from '../core/storage/metadata-db.js';
import { connectionLimits, RtmpIngest } from './ingest-rtmp.js';
import { SrtIngest } from './ingest-srt.js';
import { WhipIngest } from './ingest-whip.js';
import { whipSocketPath } from '../core/live/whip-relay.js';
import { liveWorkDir, queueArchive, requeueUnarchived } from './live-archive.js';
import { liveHookValue, LiveBroadcast, type BroadcastDeps } from './live-broadcast.js';

const REVOCATION_POLL_MS = 1000;

/** Admission and dispatch of publishers to their live's broadcast. */
class LiveSessions implements IngestHandler {
  private readonly broadcasts = new Map<string, LiveBroadcast>();
  /** Stream key → live id of admitted publishers, until they are dispatched. */
  private readonly admittedKeys = new Map<string, string>();

  constructor(
    private readonly lives: LiveStore,
    private readonly deps: (liveId: string) => BroadcastDeps,
    private readonly s: Services,
  ) {}

  async admit({ key, address, protocol }: { key: string; address: string; protocol: IngestProtocol }): Promise<boolean> {
    const row = await this.lives.findByKey(key);
    if (!row || row.revoked_at !== null || row.status === 'ended') return false;
    const b = this.broadcasts.get(row.id);
    if (b && (b.isPublishing() || b.state === 'ended')) return false;
    try {
      await this.s.plugins.filter('filter:live.publish', liveHookValue(row), { address, protocol });
    } catch (err) {
      this.s.logger.info({ live_id: row.id, address, reason: (err as Error).message }, 'live: a plugin refused the publisher');
      return false;
    }
    this.admittedKeys.set(key, row.id);
    if (!b) this.broadcasts.set(row.id, new LiveBroadcast(row, this.deps(row.id)));
    return true;
  }

  /** Takes over a live an earlier media process left on air; false when it cannot be continued. */
  async takeOver(row: LiveRow): Promise<boolean> {
    const b = new LiveBroadcast(row, this.deps(row.id));
    const taken = await b.takeOver().catch((err: unknown) => {
      this.s.logger.error({ err, live_id: row.id }, 'live: taking over the broadcast failed');
      return false;
    });
    if (taken) this.broadcasts.set(row.id, b);
    return taken;
  }

  published(pub: IngestPublisher): void {
    const id = this.admittedKeys.get(pub.key);
    this.admittedKeys.delete(pub.key);
    const b = id ? this.broadcasts.get(id) : undefined;
    if (!b) {
      pub.disconnect();
      return;
    }
    b.publisherJoined(pub).catch((err: unknown) => {
      this.s.logger.error({ err, live_id: id }, 'live: starting the broadcast failed');
      pub.disconnect();
    });
  }

  /** Ends broadcasts whose key was revoked, follows changed restream targets, forgets ended ones. */
  async followRows(): Promise<void> {
    for (const [id, b] of this.broadcasts) {
      if (b.state === 'ended') {
        this.broadcasts.delete(id);
        continue;
      }
      const row = await this.lives.find(id);
      if (!row || row.revoked_at !== null) void b.revoke();
      else b.followRow(row);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.broadcasts.values()].map((b) => b.stop()));
  }
}

/** What every ingest adapter is made from. */
interface IngestContext {
  s: Services;
  logger: Logger;
  handler: IngestHandler;
  media: { ffmpegPath: string };
}

/** One adapter per protocol (core/live/ingest.ts; undefined when config turns it off): the compiler insists on every protocol. */
const INGESTS: { [p in IngestProtocol]: (c: IngestContext) => LiveIngest | undefined } = {
  rtmp: ({ s, logger, handler }) =>
    new RtmpIngest({
      port: s.config.live.port,
      host: s.config.http.host,
      logger,
      handler,
      badKeyLimit: s.config.live.bad_key_limit,
      limits: connectionLimits(s.config.live),
    }),
  srt: ({ s, logger, handler, media }) =>
    s.config.live.srt_port === 0
      ? undefined
      : new SrtIngest({
          port: s.config.live.srt_port,
          host: s.config.http.host,
          logger,
          handler,
          ffmpegPath: media.ffmpegPath,
          latencyMs: s.config.live.srt_latency_ms,
          passphrase: s.config.live.srt_passphrase,
          badKeyLimit: s.config.live.bad_key_limit,
          maxPublishers: s.config.live.srt_max_publishers,
        }),
  whip: ({ s, logger, handler, media }) =>
    new WhipIngest({ socketPath: whipSocketPath(s.config.data_dir), live: s.config.live, ffmpegPath: media.ffmpegPath, logger, handler }),
};

/** Starts the ingests and the live packagers in this (media) process. */
/** `node`: this node's id; the archive of a live recorded here is pinned to it. */
export async function startLiveRole(s: Services, media: { ffmpegPath: string; encoder: VideoEncoder; watermark: WatermarkSpec | null }, node: string): Promise<{ stop(): Promise<void> }> {
  const lives = new LiveStore(s.db.db);
  const log = s.logger.child({ component: 'live' });
  const workDirOf = (liveId: string) => liveWorkDir(s.config, liveId);
  const archiveQueue = { catalog: s.catalog, queue: s.queue, lives, node, priority: (input: PriorityInput) => jobPriority(s, input) };
  const sessions = new LiveSessions(
    lives,
    (liveId) => ({
      lives,
      objects: s.store,
      config: s.config,
      logger: log,
      ffmpegPath: media.ffmpegPath,
      encoder: media.encoder,
      watermark: media.watermark,
      workDir: workDirOf(liveId),
      archive: (row) => queueArchive(archiveQueue, row),
      plugins: s.plugins,
    }),
    s,
  );
  for (const row of await lives.active()) {
    // Lives another node runs (a shared database) have no work dir here: not ours to touch.
    if (!(await stat(workDirOf(row.id)).then(() => true, () => false))) continue;
    if (await sessions.takeOver(row)) continue;
    await lives.update(row.id, { status: 'ended', publishing: 0, ended_at: Date.now(), error_message: 'the media process stopped during the broadcast' });
    if (row.record !== 1) await s.store.deletePrefix(liveObjectKey(row.id, ''));
  }
  // Lives that ended while no archive job could be queued (a crash in between) get theirs now.
  const requeued = await requeueUnarchived({ ...archiveQueue, db: s.db.db, config: s.config });
  if (requeued.length > 0) log.warn({ live_ids: requeued }, 'live: queued the archive of ended lives that had none');
  const ingests = Object.values(INGESTS).flatMap((make) => make({ s, logger: log, handler: sessions, media }) ?? []);
  for (const ingest of ingests) await ingest.start();
  let checking = false;
  const poll = setInterval(() => {
    if (checking) return;
    checking = true;
    sessions
      .followRows()
      .catch((err: unknown) => log.warn({ err }, 'live: revocation check failed'))
      .finally(() => (checking = false));
  }, REVOCATION_POLL_MS);
  return {
    async stop() {
      clearInterval(poll);
      for (const ingest of ingests) await ingest.close();
      await sessions.stop();
    },
  };
}
