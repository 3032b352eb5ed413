/**
 * Lives over the metadata seam, and their public shape (API.md "Live"). The HTTP processes
 * create, list and revoke lives; the media process (ingest + packagers) owns the status
 * columns. Stream keys are stored as sha256 hashes, like API tokens: the key is shown once,
 * on creation.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import type { Database, LiveRow, LivesTable } from '../storage/metadata-db.js';
import { LIVE_POSTER } from './live-locations.js';
import { parseJsonList, restreamView, type RestreamTarget, type RestreamView } from './restream-targets.js';

/** `GET /v1/live/:id`. */
export interface LiveView {
  id: string;
  title: string;
  status: LiveRow['status'];
  record: boolean;
  /** True while a publisher is connected; false during a reconnect window. */
  publishing: boolean;
  created_at: string;
  started_at?: string;
  ended_at?: string;
  vod_video_id?: string;
  renditions: { name: string; width: number; height: number; bitrate_kbps: number; passthrough: boolean }[];
  /** True once the packager fell behind real time and dropped rungs. */
  degraded: boolean;
  dropped_renditions: string[];
  playback: { hls_url: string; page_url: string; poster_url: string };
  /** Restream targets (keys masked) and their state while on air. */
  restream: RestreamView[];
  error?: { message: string };
}

export type LiveRendition = LiveView['renditions'][number];

export function hashStreamKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function iso(ms: number | null): string | undefined {
  return ms === null ? undefined : new Date(ms).toISOString();
}

/** Where a live plays: `/live/{id}/master.m3u8`. */
export function liveHlsPath(id: string): string {
  return `/live/${id}/master.m3u8`;
}

/** `configured`: the targets of `live.restream`, which every live carries. */
export function liveView(row: LiveRow, publicUrl = '', configured: readonly RestreamTarget[] = []): LiveView {
  const base = publicUrl.replace(/\/$/, '');
  const dropped = parseJsonList<string>(row.dropped_renditions);
  return {
    id: row.id,
    title: row.title,
    status: row.status,
    record: row.record === 1,
    publishing: row.publishing === 1,
    created_at: new Date(row.created_at).toISOString(),
    ...(row.started_at !== null ? { started_at: iso(row.started_at) } : {}),
    ...(row.ended_at !== null ? { ended_at: iso(row.ended_at) } : {}),
    ...(row.vod_video_id ? { vod_video_id: row.vod_video_id } : {}),
    renditions: parseJsonList<LiveRendition>(row.renditions),
    degraded: dropped.length > 0,
    dropped_renditions: dropped,
    playback: { hls_url: `${base}${liveHlsPath(row.id)}`, page_url: `${base}/live/${row.id}`, poster_url: `${base}/live/${row.id}/${LIVE_POSTER}` },
    restream: restreamView(parseJsonList(row.restream_targets), parseJsonList(row.restream_status), configured),
    ...(row.error_message ? { error: { message: row.error_message } } : {}),
  };
}

export class LiveStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new idle live and its stream key (returned only here). */
  async create(input: { title: string; record: boolean; owner: string | null; restream?: readonly RestreamTarget[] }): Promise<{ row: LiveRow; streamKey: string }> {
    // 168 random bits, URL-safe: the RTMP stream name NMS accepts ([A-Za-z0-9_-]).
    const streamKey = `${newId()}${randomBytes(12).toString('base64url')}`;
    const t = this.now();
    const row: LiveRow = {
      id: newId(),
      title: input.title,
      owner: input.owner,
      stream_key_hash: hashStreamKey(streamKey),
      record: input.record ? 1 : 0,
      status: 'idle',
      publishing: 0,
      renditions: null,
      dropped_renditions: null,
      vod_video_id: null,
      error_message: null,
      restream_targets: input.restream?.length ? JSON.stringify(input.restream) : null,
      restream_status: null,
      created_at: t,
      started_at: null,
      ended_at: null,
      revoked_at: null,
      updated_at: t,
    };
    await this.db.insertInto('lives').values(row).execute();
    return { row, streamKey };
  }

  async find(id: string): Promise<LiveRow | undefined> {
    return this.db.selectFrom('lives').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async get(id: string): Promise<LiveRow> {
    const row = await this.find(id);
    if (!row) throw new AppError('E_NOT_FOUND', `live ${id} not found`);
    return row;
  }

  async findByKey(streamKey: string): Promise<LiveRow | undefined> {
    return this.db.selectFrom('lives').selectAll().where('stream_key_hash', '=', hashStreamKey(streamKey)).executeTakeFirst();
  }

  /** Newest first, `limit` rows after the cursor (an id). */
  async list(opts: { limit: number; owner?: string | undefined; status?: LiveRow['status'] | undefined; before?: LiveRow | undefined }): Promise<LiveRow[]> {
    let q = this.db.selectFrom('lives').selectAll();
    if (opts.owner !== undefined) q = q.where('owner', '=', opts.owner);
    if (opts.status) q = q.where('status', '=', opts.status);
    const before = opts.before;
    if (before) {
      q = q.where((eb) =>
        eb.or([eb('created_at', '<', before.created_at), eb.and([eb('created_at', '=', before.created_at), eb('id', '<', before.id)])]),
      );
    }
    return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit).execute();
  }

  /** Lives the media process must look after (live, or revoked while live). */
  async active(): Promise<LiveRow[]> {
    return this.db.selectFrom('lives').selectAll().where('status', '=', 'live').execute();
  }

  async update(id: string, fields: Partial<Omit<LivesTable, 'id' | 'created_at'>>): Promise<void> {
    await this.db.updateTable('lives').set({ ...fields, updated_at: this.now() }).where('id', '=', id).execute();
  }

  /** Revokes the key: no publish is admitted again; a live that never started is ended now. */
  async revoke(id: string): Promise<LiveRow> {
    const t = this.now();
    await this.db.updateTable('lives').set({ revoked_at: t, updated_at: t }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    await this.db.updateTable('lives').set({ status: 'ended', ended_at: t, updated_at: t }).where('id', '=', id).where('status', '=', 'idle').execute();
    return this.get(id);
  }
}
