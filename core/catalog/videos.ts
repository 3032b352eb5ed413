/**
 * The video catalog: videos and their versions over the metadata seam, and the public
 * shape of a video (API.md `GET /v1/videos/:id`). Status rules:
 *  - a video without a ready version follows its newest version
 *    (awaiting_upload → uploading → processing → ready | failed);
 *  - once a version is ready the video stays `ready` and keeps serving it while a newer
 *    version (second upload, reprocess) is processed; that newer version replaces it only
 *    when it is ready.
 */
import type { PriorityClass } from '../jobs/priority.js';
import { sql, type Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import { storedChapters, type Chapter } from '../captions/chapters.js';
import { storedTextTracks } from '../captions/text-track-publisher.js';
import { AppError, isErrorCode, type ErrorCode, type VideoError } from '../errors.js';
import { newId } from '../ids.js';
import { UploadSessions } from '../uploads/upload-sessions.js';
import { posterFile } from './posters.js';
import type { DynamicRange, ProbeResult } from '../media/types.js';
import { storedWatermarkOverride, type WatermarkOverride } from '../media/watermark.js';
import type {
  Database,
  MetadataDb,
  ProcessingStage,
  RenditionRow,
  VersionRow,
  VideoRow,
  VideoSearchHit,
  VideoSearchQuery,
  Visibility,
} from '../storage/metadata-db.js';

export interface VideoView {
  id: string;
  title: string;
  description: string;
  tags: string[];
  visibility: Visibility;
  status: VideoRow['status'];
  version: number;
  error?: VideoError;
  progress?: { stage: ProcessingStage; percent: number; retry?: RetryInfo };
  duration_ms: number | null;
  width: number | null;
  height: number | null;
  created_at: string;
  ready_at: string | null;
  renditions: { name: string; width: number; height: number; bitrate_kbps: number; codecs: string }[];
  /** The source's dynamic range (HLG, PQ or SDR) once probed; the renditions are SDR either way. */
  source_dynamic_range: DynamicRange | null;
  /** Caption tracks; `url` (the whole WebVTT file) once a version serves them. */
  captions: { id: string; language: string; label: string; kind: 'subtitles' | 'captions'; auto: boolean; url: string | null }[];
  chapters: Chapter[];
  /** The video's watermark override (core/media/watermark.ts): null = `transcode.watermark` as configured. */
  watermark: WatermarkOverride;
  playback: {
    hls_url: string | null;
    dash_url?: string | null;
    poster_url: string | null;
    thumbnail_vtt_url: string | null;
    manifest_url: string | null;
    /** The WebVTT chapters track (kind "chapters"), when the video has chapters. */
    chapters_vtt_url?: string | null;
  };
}

/**
 * Why a version that is still processing is on a second (or later) attempt: its job's last
 * failure (e.g. E_STORAGE_FULL while the disk is full), and when it runs again.
 */
export interface RetryInfo {
  /** Attempts made so far. */
  attempts: number;
  code: ErrorCode;
  message: string;
  /** When the next attempt starts; absent while one is running. */
  next_attempt_at?: string;
}

/** A job's `last_error` ("E_CODE: message") as a code and a message. */
function parseJobError(text: string): { code: ErrorCode; message: string } {
  const m = /^(E_[A-Z_]+): ([\s\S]*)$/.exec(text);
  return m && isErrorCode(m[1]) ? { code: m[1], message: m[2]! } : { code: 'E_INTERNAL', message: text };
}

export interface NewVideoInput {
  title: string;
  description?: string | undefined;
  tags?: string[] | undefined;
  visibility?: Visibility | undefined;
  owner?: string | null | undefined;
  /** Priority class of the video's jobs (core/jobs/priority.ts); default normal. */
  priority?: PriorityClass | undefined;
  /** A clip: the video and range (ms) it is cut from. */
  clip?: { of: string; start_ms: number; end_ms: number } | undefined;
  /** JSON of the video's watermark override. */
  watermark?: string | null | undefined;
}

export interface ListQuery {
  limit: number;
  cursor?: string | undefined;
  owner?: string | undefined;
  status?: VideoRow['status'] | undefined;
  /** Only these visibilities (anonymous callers: public). */
  visibilities?: Visibility[] | undefined;
}

/** A search: every word must appear (case-insensitively) in the title, description or tags. */
export interface SearchQuery extends ListQuery {
  words: string[];
}

/** A LIKE pattern matching `word` anywhere, with LIKE's own wildcards taken literally. */
function containsPattern(word: string): string {
  return `%${word.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Where a version's files are served: `/media/{id}/v{N}/…`. */
export function mediaBase(videoId: string, version: number): string {
  return `/media/${videoId}/v${version}/`;
}

/** The public URLs of a published version's manifest entries (`public_url` + mediaBase). */
export function versionUrls(publicUrl: string, videoId: string, version: number): { hls_url: string; dash_url: string; poster_url: string; thumbnail_vtt_url: string } {
  const base = `${publicUrl.replace(/\/$/, '')}${mediaBase(videoId, version)}`;
  return { hls_url: `${base}master.m3u8`, dash_url: `${base}master.mpd`, poster_url: `${base}poster.jpg`, thumbnail_vtt_url: `${base}storyboard.vtt` };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function encodeCursor(row: Pick<VideoRow, 'created_at' | 'id'>): string {
  return Buffer.from(`${row.created_at}:${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { created_at: number; id: string } {
  const raw = Buffer.from(cursor, 'base64url').toString();
  const m = /^(\d+):([A-Za-z0-9_-]{1,64})$/.exec(raw);
  if (!m) throw new AppError('E_BAD_REQUEST', 'invalid cursor');
  return { created_at: Number(m[1]), id: m[2]! };
}

/** Search cursor: the snapshot time of the first page, then the last hit's rank, created_at and id. */
function encodeSearchCursor(snapshot: number, hit: VideoSearchHit): string {
  return Buffer.from(`s:${snapshot}:${hit.rank}:${hit.seq}`).toString('base64url');
}

function decodeSearchCursor(cursor: string): { snapshot: number; after: NonNullable<VideoSearchQuery['after']> } {
  const raw = Buffer.from(cursor, 'base64url').toString();
  const m = /^s:(\d+):(-?\d+):(\d+)$/.exec(raw);
  if (!m) throw new AppError('E_BAD_REQUEST', 'invalid cursor');
  return { snapshot: Number(m[1]), after: { rank: Number(m[2]), seq: Number(m[3]) } };
}

/** A version as a video's view needs it (see VideoCatalog.versionView). */
interface VersionView extends Pick<VersionRow, 'version' | 'status' | 'stage' | 'percent' | 'playable' | 'duration_ms' | 'width' | 'height'> {
  source_dynamic_range: DynamicRange | null;
  /** Its manifest names a DASH MPD. */
  dash: boolean;
  renditions: VideoView['renditions'];
}

/** Published versions kept per process: ~1 KB each. */
const PUBLISHED_VERSIONS_KEPT = 10_000;

export class VideoCatalog {
  private readonly published = new LRUCache<string, VersionView>({ max: PUBLISHED_VERSIONS_KEPT });

  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
    /** The dialect's ranked full-text search, when the adapter has one. */
    private readonly fullText?: Pick<MetadataDb, 'searchVideos'>,
    /** `public_url`: when set, playback URLs are absolute under it (README "Configuration"). */
    publicUrl = '',
  ) {
    this.urlPrefix = publicUrl.replace(/\/+$/, '');
  }

  private readonly urlPrefix: string;

  async create(input: NewVideoInput): Promise<VideoRow> {
    const t = this.now();
    const row: VideoRow = {
      id: newId(),
      title: input.title,
      description: input.description ?? '',
      tags: JSON.stringify(input.tags ?? []),
      visibility: input.visibility ?? 'public',
      status: 'awaiting_upload',
      current_version: 0,
      latest_version: 0,
      owner: input.owner ?? null,
      error_code: null,
      error_message: null,
      error_retryable: null,
      created_at: t,
      updated_at: t,
      ready_at: null,
      priority: input.priority ?? 'normal',
      chapters: null,
      text_tracks: null,
      clip_of: input.clip?.of ?? null,
      clip_start_ms: input.clip?.start_ms ?? null,
      clip_end_ms: input.clip?.end_ms ?? null,
      poster: null,
      watermark: input.watermark ?? null,
    };
    await this.db.insertInto('videos').values(row).execute();
    return row;
  }

  async find(id: string): Promise<VideoRow | undefined> {
    return this.db.selectFrom('videos').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async get(id: string): Promise<VideoRow> {
    const row = await this.find(id);
    if (!row) throw new AppError('E_NOT_FOUND', `video ${id} not found`);
    return row;
  }

  async version(videoId: string, version: number): Promise<VersionRow | undefined> {
    return this.db
      .selectFrom('versions')
      .selectAll()
      .where('video_id', '=', videoId)
      .where('version', '=', version)
      .executeTakeFirst();
  }

  async renditions(videoId: string, version: number): Promise<RenditionRow[]> {
    return this.db
      .selectFrom('renditions')
      .selectAll()
      .where('video_id', '=', videoId)
      .where('version', '=', version)
      .orderBy('height')
      .execute();
  }

  async patch(
    id: string,
    fields: Partial<Pick<NewVideoInput, 'title' | 'description' | 'tags' | 'visibility' | 'watermark'>> & { chapters?: Chapter[] | undefined },
  ): Promise<VideoRow> {
    await this.get(id);
    const update: Partial<VideoRow> = { updated_at: this.now() };
    if (fields.watermark !== undefined) update.watermark = fields.watermark;
    if (fields.chapters !== undefined) update.chapters = JSON.stringify(fields.chapters);
    if (fields.title !== undefined) update.title = fields.title;
    if (fields.description !== undefined) update.description = fields.description;
    if (fields.tags !== undefined) update.tags = JSON.stringify(fields.tags);
    if (fields.visibility !== undefined) update.visibility = fields.visibility;
    await this.db.updateTable('videos').set(update).where('id', '=', id).execute();
    return this.get(id);
  }

  /**
   * Opens a new version for an upload (or a reprocess): v1 for the first upload, then v2, ….
   * The video's status moves to `uploading` only while nothing is ready yet.
   */
  async openVersion(
    videoId: string,
    init: { status: VersionRow['status']; source_bytes?: number | null; source_filename?: string | null },
  ): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const video = await trx.selectFrom('videos').selectAll().where('id', '=', videoId).executeTakeFirst();
      if (!video) throw new AppError('E_NOT_FOUND', `video ${videoId} not found`);
      const version = video.latest_version + 1;
      const t = this.now();
      await trx
        .insertInto('versions')
        .values({
          video_id: videoId,
          version,
          status: init.status,
          stage: init.status === 'processing' ? 'queued' : null,
          percent: init.status === 'processing' ? 0 : null,
          playable: 0,
          source_bytes: init.source_bytes ?? null,
          source_filename: init.source_filename ?? null,
          duration_ms: null,
          width: null,
          height: null,
          probe: null,
          manifest: null,
          loudness: null,
          encoder: null,
          error_code: null,
          error_message: null,
          error_retryable: null,
          processing_started_at: null,
          created_at: t,
          ready_at: null,
        })
        .execute();
      const status = video.current_version > 0 ? video.status : init.status === 'processing' ? 'processing' : 'uploading';
      await trx
        .updateTable('videos')
        .set({ latest_version: version, status, updated_at: t, error_code: null, error_message: null, error_retryable: null })
        .where('id', '=', videoId)
        .execute();
      return version;
    });
  }

  /** The upload of a version finished: it waits for processing now. */
  async markUploaded(videoId: string, version: number, sourceBytes: number): Promise<void> {
    const t = this.now();
    await this.db
      .updateTable('versions')
      .set({ status: 'processing', stage: 'queued', percent: 0, source_bytes: sourceBytes })
      .where('video_id', '=', videoId)
      .where('version', '=', version)
      .execute();
    await this.db
      .updateTable('videos')
      .set({ status: 'processing', updated_at: t })
      .where('id', '=', videoId)
      .where('current_version', '=', 0)
      .execute();
  }

  async setProgress(videoId: string, version: number, stage: ProcessingStage, percent: number): Promise<void> {
    await this.db
      .updateTable('versions')
      .set({ stage, percent: Math.max(0, Math.min(100, Math.round(percent * 10) / 10)) })
      .where('video_id', '=', videoId)
      .where('version', '=', version)
      .execute();
  }

  async updateVersion(videoId: string, version: number, fields: Partial<VersionRow>): Promise<void> {
    await this.db.updateTable('versions').set(fields).where('video_id', '=', videoId).where('version', '=', version).execute();
  }

  /**
   * The version is published: it becomes the one viewers get. Every other ready version of
   * the video is superseded from now on (served for `versions.grace_s`, then swept); the
   * answer names them, so their URLs can be purged from CDNs. A version that finishes after
   * a newer one is already current is superseded at once.
   */
  async markReady(
    videoId: string,
    version: number,
    fields: Pick<VersionRow, 'duration_ms' | 'width' | 'height' | 'manifest' | 'loudness' | 'encoder'>,
    renditions: Omit<RenditionRow, 'video_id' | 'version'>[],
  ): Promise<{ superseded: number[] }> {
    const t = this.now();
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('renditions').where('video_id', '=', videoId).where('version', '=', version).execute();
      if (renditions.length > 0) {
        await trx
          .insertInto('renditions')
          .values(renditions.map((r) => ({ ...r, video_id: videoId, version })))
          .execute();
      }
      await trx
        .updateTable('versions')
        .set({ ...fields, status: 'ready', stage: 'publish', percent: 100, playable: 1, ready_at: t })
        .where('video_id', '=', videoId)
        .where('version', '=', version)
        .execute();
      // A newer version may already be ready (a later reprocess finished first): keep the newest.
      await trx
        .updateTable('videos')
        .set({ status: 'ready', current_version: version, ready_at: t, updated_at: t, error_code: null, error_message: null, error_retryable: null })
        .where('id', '=', videoId)
        .where('current_version', '<', version)
        .execute();
      const video = await trx.selectFrom('videos').select('current_version').where('id', '=', videoId).executeTakeFirst();
      if (!video) return { superseded: [] };
      const superseded = await trx
        .selectFrom('versions')
        .select('version')
        .where('video_id', '=', videoId)
        .where('status', '=', 'ready')
        .where('version', '!=', video.current_version)
        .where('superseded_at', 'is', null)
        .execute();
      if (superseded.length > 0) {
        await trx
          .updateTable('versions')
          .set({ superseded_at: t })
          .where('video_id', '=', videoId)
          .where('version', 'in', superseded.map((r) => r.version))
          .execute();
      }
      return { superseded: superseded.map((r) => r.version) };
    });
  }

  /**
   * Superseded versions whose grace period ended before `before` and whose media is still
   * stored: what the sweep removes next (a bounded batch, oldest first).
   */
  async expiredVersions(before: number, limit: number): Promise<Pick<VersionRow, 'video_id' | 'version'>[]> {
    return this.db
      .selectFrom('versions')
      .select(['video_id', 'version'])
      .where('superseded_at', '<=', before)
      .where('media_removed_at', 'is', null)
      .orderBy('superseded_at')
      .limit(limit)
      .execute();
  }

  /** The sweep deleted a superseded version's media. */
  async markMediaRemoved(videoId: string, version: number): Promise<void> {
    await this.updateVersion(videoId, version, { media_removed_at: this.now(), playable: 0 });
    await this.db.deleteFrom('renditions').where('video_id', '=', videoId).where('version', '=', version).execute();
  }

  /** Processing of a version failed; the video shows the error only if nothing is ready. */
  async markFailed(videoId: string, version: number, error: VideoError): Promise<void> {
    const t = this.now();
    await this.db
      .updateTable('versions')
      .set({ status: 'failed', error_code: error.code, error_message: error.message, error_retryable: error.retryable ? 1 : 0 })
      .where('video_id', '=', videoId)
      .where('version', '=', version)
      .execute();
    await this.db
      .updateTable('videos')
      .set({ status: 'failed', error_code: error.code, error_message: error.message, error_retryable: error.retryable ? 1 : 0, updated_at: t })
      .where('id', '=', videoId)
      .where('current_version', '=', 0)
      .where('latest_version', '=', version)
      .execute();
  }

  /** An upload that never finished: its version disappears as if it had never been opened. */
  async abandonVersion(videoId: string, version: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('versions').where('video_id', '=', videoId).where('version', '=', version).execute();
      const video = await trx.selectFrom('videos').selectAll().where('id', '=', videoId).executeTakeFirst();
      if (!video || video.latest_version !== version) return;
      const newest = await trx
        .selectFrom('versions')
        .select('version')
        .where('video_id', '=', videoId)
        .orderBy('version', 'desc')
        .executeTakeFirst();
      await trx
        .updateTable('videos')
        .set({
          latest_version: newest?.version ?? 0,
          status: video.current_version > 0 ? video.status : newest ? video.status : 'awaiting_upload',
          updated_at: this.now(),
        })
        .where('id', '=', videoId)
        .execute();
    });
  }

  /** Ids of the video's tus uploads still in progress (their bytes are not a version's source yet). */
  async unfinishedUploads(videoId: string): Promise<string[]> {
    return new UploadSessions(this.db).openIdsOf(videoId);
  }

  async delete(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('renditions').where('video_id', '=', id).execute();
      await trx.deleteFrom('captions').where('video_id', '=', id).execute();
      await trx.deleteFrom('versions').where('video_id', '=', id).execute();
      await new UploadSessions(trx).removeAllOf(id);
      await trx.deleteFrom('jobs').where('video_id', '=', id).where('status', 'in', ['queued', 'dead', 'failed', 'succeeded']).execute();
      await trx.deleteFrom('videos').where('id', '=', id).execute();
    });
  }

  async list(q: ListQuery): Promise<{ items: VideoRow[]; next_cursor: string | null }> {
    return this.search({ ...q, words: [] });
  }

  /**
   * Every word must match the title, description or tags. With the adapter's full-text
   * index: most relevant first, each word matching as a prefix, and pages taken from the
   * snapshot of the first one (videos created since never shift later pages). Without it:
   * substring matches, newest first.
   */
  async search(q: SearchQuery): Promise<{ items: VideoRow[]; next_cursor: string | null }> {
    const searchVideos = this.fullText?.searchVideos?.bind(this.fullText);
    if (searchVideos && q.words.length > 0) {
      const from = q.cursor ? decodeSearchCursor(q.cursor) : undefined;
      const { hits, snapshot } = await searchVideos({
        words: q.words,
        limit: q.limit + 1,
        owner: q.owner,
        status: q.status,
        visibilities: q.visibilities,
        seqAtMost: from?.snapshot,
        after: from?.after,
      });
      const items = hits.slice(0, q.limit);
      const last = items[items.length - 1];
      return {
        items: items.map(({ rank: _rank, seq: _seq, ...row }) => row),
        next_cursor: hits.length > q.limit && last ? encodeSearchCursor(snapshot, last) : null,
      };
    }
    return this.substringSearch(q);
  }

  /** Newest first, one page at a time; every word must appear in the title, description or tags. */
  private async substringSearch(q: SearchQuery): Promise<{ items: VideoRow[]; next_cursor: string | null }> {
    let query = this.db.selectFrom('videos').selectAll();
    for (const word of q.words) {
      const pattern = containsPattern(word);
      query = query.where((eb) =>
        eb.or(
          (['title', 'description', 'tags'] as const).map((column) => sql<boolean>`lower(${eb.ref(column)}) like ${pattern} escape '\\'`),
        ),
      );
    }
    if (q.owner !== undefined) query = query.where('owner', '=', q.owner);
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    if (q.visibilities !== undefined) query = query.where('visibility', 'in', q.visibilities);
    if (q.cursor) {
      const c = decodeCursor(q.cursor);
      query = query.where((eb) =>
        eb.or([eb('created_at', '<', c.created_at), eb.and([eb('created_at', '=', c.created_at), eb('id', '<', c.id)])]),
      );
    }
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit + 1).execute();
    const items = rows.slice(0, q.limit);
    const last = items[items.length - 1];
    return { items, next_cursor: rows.length > q.limit && last ? encodeCursor(last) : null };
  }


  /**
   * What a view shows of a version, with its renditions. A published (ready) version never
   * changes (its outputs are immutable and a new upload or reprocess makes a new version),
   * so it is kept per process: a GET of a ready video then reads one row, the video's.
   */
  private async versionView(videoId: string, version: number): Promise<VersionView | undefined> {
    const key = `${videoId}/${version}`;
    const kept = this.published.get(key);
    if (kept) return kept;
    const row = await this.version(videoId, version);
    if (!row) return undefined;
    const ready = row.status === 'ready';
    const manifest = ready && row.manifest ? (JSON.parse(row.manifest) as { dash_url?: string | null }) : undefined;
    const renditions = ready ? await this.renditions(videoId, version) : [];
    // Frozen: every view of a kept version shares it.
    const view: VersionView = Object.freeze({
      version: row.version,
      status: row.status,
      stage: row.stage,
      percent: row.percent,
      playable: row.playable,
      duration_ms: row.duration_ms,
      width: row.width,
      height: row.height,
      dash: Boolean(manifest?.dash_url),
      source_dynamic_range: row.probe ? ((JSON.parse(row.probe) as Partial<ProbeResult>).dynamic_range ?? null) : null,
      renditions: Object.freeze(
        renditions.map((r) => Object.freeze({ name: r.name, width: r.width, height: r.height, bitrate_kbps: r.bitrate_kbps, codecs: r.codecs })),
      ) as VideoView['renditions'],
    });
    if (ready) this.published.set(key, view);
    return view;
  }

  /** The last failure of a version's unfinished job, when it has one (see RetryInfo). */
  private async retryOf(videoId: string, version: number): Promise<RetryInfo | undefined> {
    const job = await this.db
      .selectFrom('jobs')
      .select(['status', 'attempts', 'last_error', 'run_after'])
      .where('video_id', '=', videoId)
      .where('version', '=', version)
      .where('status', 'in', ['queued', 'running'])
      .where('last_error', 'is not', null)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!job?.last_error) return undefined;
    return {
      attempts: job.attempts,
      ...parseJobError(job.last_error),
      ...(job.status === 'queued' ? { next_attempt_at: iso(job.run_after)! } : {}),
    };
  }

  /** The public shape of a video (API.md). */
  async view(row: VideoRow, sign: (url: string) => string = (u) => u): Promise<VideoView> {
    const current = row.current_version > 0 ? await this.versionView(row.id, row.current_version) : undefined;
    const latest =
      row.latest_version > 0 && row.latest_version !== row.current_version ? await this.versionView(row.id, row.latest_version) : current;
    const base = (v: number) => this.urlPrefix + mediaBase(row.id, v);
    // Instant publish: a still-processing version plays as soon as its first segments exist.
    const playing = current ?? (latest && latest.playable ? latest : undefined);
    const ready = current?.status === 'ready';
    // Captions and chapters published for the served version live in a master revision.
    const tracks = storedTextTracks(row.text_tracks);
    const served = ready && tracks?.version === current.version ? tracks : undefined;
    const revision = served?.revision ? `-${served.revision}` : '';
    const view: VideoView = {
      id: row.id,
      title: row.title,
      description: row.description,
      tags: JSON.parse(row.tags) as string[],
      visibility: row.visibility,
      status: row.status,
      version: playing?.version ?? row.latest_version,
      duration_ms: (current ?? latest)?.duration_ms ?? null,
      width: (current ?? latest)?.width ?? null,
      height: (current ?? latest)?.height ?? null,
      created_at: iso(row.created_at)!,
      ready_at: iso(row.ready_at),
      renditions: current?.status === 'ready' ? current.renditions : [],
      source_dynamic_range: (current ?? latest)?.source_dynamic_range ?? null,
      captions: (tracks?.captions ?? []).map(({ file, ...c }) => ({
        ...c,
        url: served && file ? sign(`${base(served.version)}${file}`) : null,
      })),
      chapters: storedChapters(row.chapters),
      watermark: storedWatermarkOverride(row.watermark),
      playback: {
        hls_url: playing ? sign(`${base(playing.version)}master${playing === current ? revision : ''}.m3u8`) : null,
        dash_url: ready && current.dash ? sign(`${base(current.version)}master${revision}.mpd`) : null,
        poster_url: ready ? sign(`${base(current.version)}${posterFile(row, current.version)}`) : null,
        thumbnail_vtt_url: ready ? sign(`${base(current.version)}storyboard.vtt`) : null,
        manifest_url: ready ? sign(`${base(current.version)}manifest${revision}.json`) : null,
        chapters_vtt_url: served?.chapters_file ? sign(`${base(served.version)}${served.chapters_file}`) : null,
      },
    };
    if (row.status === 'failed' && row.error_code) {
      view.error = { code: row.error_code as VideoError['code'], message: row.error_message ?? '', retryable: row.error_retryable === 1 };
    }
    if (latest && latest.status === 'processing') {
      view.progress = { stage: latest.stage ?? 'queued', percent: latest.percent ?? 0 };
      const retry = await this.retryOf(row.id, latest.version);
      if (retry) view.progress.retry = retry;
    }
    return view;
  }
}
