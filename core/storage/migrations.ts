/**
 * Schema migrations for the metadata database, shared by every dialect.
 *
 * Migrations are an ordered record of named steps (names sort in run order) built with
 * Kysely's schema builder and portable types only: `text`, `integer`, `bigint` (epoch
 * milliseconds overflow a Postgres `integer`), `double precision`. The one dialect fork is
 * the auto-increment key. Add a step by appending a new name; never edit a shipped one.
 */
import { Kysely, Migrator, PostgresAdapter, sql, type Migration, type MigrationProvider } from 'kysely';
import type { Database } from './metadata-db.js';

/** Adds an integer key that the database numbers itself. */
function autoIncrementId(db: Kysely<any>, table: ReturnType<Kysely<any>['schema']['createTable']>) {
  return db.getExecutor().adapter instanceof PostgresAdapter
    ? table.addColumn('id', 'integer', (col) => col.primaryKey().generatedByDefaultAsIdentity())
    : table.addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement());
}

const initial: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('videos')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('title', 'text', (col) => col.notNull())
      .addColumn('description', 'text', (col) => col.notNull().defaultTo(''))
      .addColumn('tags', 'text', (col) => col.notNull().defaultTo('[]'))
      .addColumn('visibility', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull())
      .addColumn('current_version', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('latest_version', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('owner', 'text')
      .addColumn('error_code', 'text')
      .addColumn('error_message', 'text')
      .addColumn('error_retryable', 'integer')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .addColumn('ready_at', 'bigint')
      .execute();
    // Lists page newest first with a (created_at, id) cursor, optionally per owner or status.
    await db.schema.createIndex('videos_created_idx').on('videos').columns(['created_at', 'id']).execute();
    await db.schema.createIndex('videos_owner_created_idx').on('videos').columns(['owner', 'created_at', 'id']).execute();
    await db.schema.createIndex('videos_status_created_idx').on('videos').columns(['status', 'created_at', 'id']).execute();

    await db.schema
      .createTable('versions')
      .addColumn('video_id', 'text', (col) => col.notNull().references('videos.id').onDelete('cascade'))
      .addColumn('version', 'integer', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull())
      .addColumn('stage', 'text')
      .addColumn('percent', 'double precision')
      .addColumn('playable', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('source_bytes', 'bigint')
      .addColumn('source_filename', 'text')
      .addColumn('duration_ms', 'bigint')
      .addColumn('width', 'integer')
      .addColumn('height', 'integer')
      .addColumn('probe', 'text')
      .addColumn('manifest', 'text')
      .addColumn('loudness', 'double precision')
      .addColumn('encoder', 'text')
      .addColumn('error_code', 'text')
      .addColumn('error_message', 'text')
      .addColumn('error_retryable', 'integer')
      .addColumn('processing_started_at', 'bigint')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('ready_at', 'bigint')
      .addPrimaryKeyConstraint('versions_pk', ['video_id', 'version'])
      .execute();

    // The primary key's (video_id, version) prefix serves "renditions of a version".
    await db.schema
      .createTable('renditions')
      .addColumn('video_id', 'text', (col) => col.notNull())
      .addColumn('version', 'integer', (col) => col.notNull())
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('width', 'integer', (col) => col.notNull())
      .addColumn('height', 'integer', (col) => col.notNull())
      .addColumn('bitrate_kbps', 'integer', (col) => col.notNull())
      .addColumn('codecs', 'text', (col) => col.notNull())
      .addPrimaryKeyConstraint('renditions_pk', ['video_id', 'version', 'name'])
      .addForeignKeyConstraint('renditions_version_fk', ['video_id', 'version'], 'versions', ['video_id', 'version'], (fk) =>
        fk.onDelete('cascade'),
      )
      .execute();

    // No foreign key to videos: a job may outlive its video (the handler then finds it gone),
    // and deleting a video must not pull a running job's row from under its worker.
    await autoIncrementId(db, db.schema.createTable('jobs'))
      .addColumn('type', 'text', (col) => col.notNull())
      .addColumn('video_id', 'text')
      .addColumn('version', 'integer')
      .addColumn('payload', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull())
      .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('max_attempts', 'integer', (col) => col.notNull())
      .addColumn('run_after', 'bigint', (col) => col.notNull())
      .addColumn('lease_owner', 'text')
      .addColumn('lease_expires_at', 'bigint')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .addColumn('started_at', 'bigint')
      .addColumn('finished_at', 'bigint')
      .execute();
    // Claiming looks for queued jobs due by run_after, and running jobs whose lease expired.
    await db.schema.createIndex('jobs_status_run_after_idx').on('jobs').columns(['status', 'run_after']).execute();
    await db.schema.createIndex('jobs_status_lease_idx').on('jobs').columns(['status', 'lease_expires_at']).execute();
    await db.schema.createIndex('jobs_video_idx').on('jobs').columns(['video_id', 'version']).execute();

    await db.schema
      .createTable('upload_sessions')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('video_id', 'text', (col) => col.notNull().references('videos.id').onDelete('cascade'))
      .addColumn('version', 'integer', (col) => col.notNull())
      .addColumn('size', 'bigint')
      .addColumn('filename', 'text')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('expires_at', 'bigint', (col) => col.notNull())
      .addColumn('completed_at', 'bigint')
      .execute();
    await db.schema.createIndex('upload_sessions_expires_idx').on('upload_sessions').column('expires_at').execute();
    await db.schema.createIndex('upload_sessions_video_idx').on('upload_sessions').column('video_id').execute();

    await db.schema
      .createTable('api_tokens')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('token_hash', 'text', (col) => col.notNull().unique())
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('scopes', 'text', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('revoked_at', 'bigint')
      .execute();
  },

  async down(db: Kysely<any>): Promise<void> {
    for (const table of ['api_tokens', 'upload_sessions', 'jobs', 'renditions', 'versions', 'videos']) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  },
};

/**
 * Player QoE events (API.md "Telemetry"): one row per event, the figures the stats read in
 * their own typed columns (null where the type has none), the rest of the event as JSON.
 */
const playbackEvents: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await autoIncrementId(db, db.schema.createTable('playback_events'))
      .addColumn('video_id', 'text', (col) => col.notNull().references('videos.id').onDelete('cascade'))
      .addColumn('session_id', 'text', (col) => col.notNull())
      .addColumn('type', 'text', (col) => col.notNull())
      .addColumn('ts', 'bigint', (col) => col.notNull())
      .addColumn('received_at', 'bigint', (col) => col.notNull())
      .addColumn('dwell_ms', 'bigint')
      .addColumn('percent_complete', 'double precision')
      .addColumn('ttff_ms', 'bigint')
      .addColumn('duration_ms', 'bigint')
      .addColumn('kbps', 'double precision')
      .addColumn('detail', 'text')
      .execute();
    // Stats read one video's events of one type (the newest arrivals for TTFF); the video_id prefix
    // also serves the cascade when a video is deleted.
    await db.schema.createIndex('playback_events_video_type_received_idx').on('playback_events').columns(['video_id', 'type', 'received_at']).execute();
  },

  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropTable('playback_events').ifExists().execute();
  },
};

/**
 * Live broadcasts (API.md "Live"): one row per live, its stream key stored hashed. The media
 * process owns the status columns; the API reads them.
 */
const lives: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('lives')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('title', 'text', (col) => col.notNull())
      .addColumn('owner', 'text')
      .addColumn('stream_key_hash', 'text', (col) => col.notNull().unique())
      .addColumn('record', 'integer', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull())
      .addColumn('publishing', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('renditions', 'text')
      .addColumn('dropped_renditions', 'text')
      .addColumn('vod_video_id', 'text')
      .addColumn('error_message', 'text')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('started_at', 'bigint')
      .addColumn('ended_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('lives_created_idx').on('lives').columns(['created_at', 'id']).execute();
    await db.schema.createIndex('lives_status_idx').on('lives').column('status').execute();
  },

  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropTable('lives').ifExists().execute();
  },
};

/**
 * Catalog search and feed. Full-text search is dialect-specific (the adapters' searchVideos):
 * on SQLite an FTS5 index over title, description and tags (JSON text tokenizes to its
 * words), kept in sync by triggers, with prefix indexes for prefix matches; on Postgres a
 * generated tsvector column with a GIN index. The feed reads recent engagement by arrival
 * time, hence the index on playback_events.received_at.
 */
const searchAndFeed: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    if (db.getExecutor().adapter instanceof PostgresAdapter) {
      await sql`alter table videos add column search_vector tsvector generated always as (to_tsvector('simple', title || ' ' || description || ' ' || tags)) stored`.execute(db);
      await sql`create index videos_search_idx on videos using gin (search_vector)`.execute(db);
    } else {
      await createVideosFts(db, '2 3');
      await sql`create trigger videos_fts_insert after insert on videos begin
        insert into videos_fts(rowid, title, description, tags) values (new.rowid, new.title, new.description, new.tags);
      end`.execute(db);
      await sql`create trigger videos_fts_delete after delete on videos begin
        insert into videos_fts(videos_fts, rowid, title, description, tags) values ('delete', old.rowid, old.title, old.description, old.tags);
      end`.execute(db);
      // Status and progress updates are frequent: only text changes touch the index.
      await sql`create trigger videos_fts_update after update of title, description, tags on videos begin
        insert into videos_fts(videos_fts, rowid, title, description, tags) values ('delete', old.rowid, old.title, old.description, old.tags);
        insert into videos_fts(rowid, title, description, tags) values (new.rowid, new.title, new.description, new.tags);
      end`.execute(db);
    }
    await db.schema.createIndex('playback_events_received_idx').on('playback_events').column('received_at').execute();
  },

  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropIndex('playback_events_received_idx').ifExists().execute();
    if (db.getExecutor().adapter instanceof PostgresAdapter) {
      await sql`drop index if exists videos_search_idx`.execute(db);
      await sql`alter table videos drop column if exists search_vector`.execute(db);
    } else {
      for (const trigger of ['videos_fts_insert', 'videos_fts_delete', 'videos_fts_update']) await sql.raw(`drop trigger if exists ${trigger}`).execute(db);
      await sql`drop table if exists videos_fts`.execute(db);
    }
  },
};

/**
 * The webhooks plugin's deliveries (plugins/webhooks): one row per event and endpoint,
 * pending until delivered or given up, so a restart loses none; the rows are the delivery log.
 */
const webhookDeliveries: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await autoIncrementId(db, db.schema.createTable('webhook_deliveries'))
      .addColumn('event', 'text', (col) => col.notNull())
      .addColumn('url', 'text', (col) => col.notNull())
      // The exact JSON body sent (and signed).
      .addColumn('payload', 'text', (col) => col.notNull())
      .addColumn('status', 'text', (col) => col.notNull())
      .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('next_attempt_at', 'bigint', (col) => col.notNull())
      .addColumn('lease_expires_at', 'bigint')
      .addColumn('last_status', 'integer')
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('delivered_at', 'bigint')
      .execute();
    await db.schema.createIndex('webhook_deliveries_due_idx').on('webhook_deliveries').columns(['status', 'next_attempt_at']).execute();
  },

  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropTable('webhook_deliveries').ifExists().execute();
  },
};

/** Every migration, by name; names sort in the order they run. */
/**
 * Search pages stop after their last row instead of ranking every match (storage-adapters/
 * metadata/sqlite-search.ts). Equal ranks go newest first by insertion sequence: SQLite has
 * it already, the rowid its FTS index walks; PostgreSQL gets a `seq` column, numbered for
 * existing rows in creation order. And on SQLite, prefix indexes for every prefix up to 8
 * characters: without one, FTS5 merges a prefix's whole doclist before returning a row
 * (~80 ms for a word in 1M rows, each time it occurs in a query); with one, a prefix query
 * streams like a whole word. It about doubles the index (~430 bytes per video).
 */
const searchOrder: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    if (db.getExecutor().adapter instanceof PostgresAdapter) {
      await sql`alter table videos add column seq bigint`.execute(db);
      await sql`update videos set seq = n.seq from (select id, row_number() over (order by created_at, id) as seq from videos) n where videos.id = n.id`.execute(db);
      await sql`create sequence videos_seq_seq owned by videos.seq`.execute(db);
      await sql`select setval('videos_seq_seq', coalesce((select max(seq) from videos), 0) + 1, false)`.execute(db);
      await sql`alter table videos alter column seq set default nextval('videos_seq_seq'), alter column seq set not null`.execute(db);
      await sql`create unique index videos_seq_idx on videos (seq)`.execute(db);
    } else {
      // The triggers of 0004 name the table, so they keep feeding the new one.
      await sql`drop table videos_fts`.execute(db);
      await createVideosFts(db, '1 2 3 4 5 6 7 8');
    }
  },

  async down(db: Kysely<any>): Promise<void> {
    if (db.getExecutor().adapter instanceof PostgresAdapter) {
      await sql`alter table videos drop column if exists seq`.execute(db);
    } else {
      await sql`drop table videos_fts`.execute(db);
      await createVideosFts(db, '2 3');
    }
  },
};

/** The FTS5 index over videos (external content: it holds only tokens; rows are read from videos by rowid), filled from the table. */
async function createVideosFts(db: Kysely<any>, prefixes: string): Promise<void> {
  await sql`create virtual table videos_fts using fts5(title, description, tags, content='videos', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2', prefix=${sql.lit(prefixes)})`.execute(db);
  await sql`insert into videos_fts(videos_fts) values ('rebuild')`.execute(db);
}

/**
 * Issue 13 (telemetry under abuse, upload holes):
 * - `upload_sessions.last_activity_at`: uploads expire after inactivity, not age;
 * - `leases`: named leases with an expiry, held by one owner across processes and nodes (the
 *   tus locker's `upload:ID`, one telemetry roll-up at a time);
 * - `upload_starts`: the per-token hourly upload count, kept apart from videos so deleting
 *   videos does not give uploads back;
 * - `playback_daily`: raw events older than `telemetry.retention_days`, rolled up per video
 *   and UTC day before they are deleted (0004 indexed `received_at`, which the roll-up walks).
 */
const uploadHolesAndTelemetryRetention: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('upload_sessions').addColumn('last_activity_at', 'bigint').execute();
    await db.updateTable('upload_sessions').set({ last_activity_at: sql`created_at` }).execute();
    await db.schema.createIndex('upload_sessions_open_activity_idx').on('upload_sessions').columns(['completed_at', 'last_activity_at']).execute();

    await db.schema
      .createTable('leases')
      .addColumn('name', 'text', (col) => col.primaryKey())
      .addColumn('owner', 'text', (col) => col.notNull())
      .addColumn('expires_at', 'bigint', (col) => col.notNull())
      .execute();

    await autoIncrementId(db, db.schema.createTable('upload_starts'))
      .addColumn('owner', 'text', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('upload_starts_owner_created_idx').on('upload_starts').columns(['owner', 'created_at']).execute();
    // Uploads started within the last hour keep counting across the upgrade.
    await sql`insert into upload_starts (owner, created_at)
      select v.owner, u.created_at from upload_sessions u join videos v on v.id = u.video_id where v.owner is not null`.execute(db);

    await db.schema
      .createTable('playback_daily')
      .addColumn('video_id', 'text', (col) => col.notNull().references('videos.id').onDelete('cascade'))
      /** Start of the UTC day, epoch ms. */
      .addColumn('day', 'bigint', (col) => col.notNull())
      .addColumn('views', 'bigint', (col) => col.notNull())
      .addColumn('sessions', 'bigint', (col) => col.notNull())
      .addColumn('watch_time_ms', 'bigint', (col) => col.notNull())
      .addColumn('completed', 'bigint', (col) => col.notNull())
      .addColumn('rebuffer_ms', 'bigint', (col) => col.notNull())
      .addColumn('rebuffer_count', 'bigint', (col) => col.notNull())
      .addColumn('errors', 'bigint', (col) => col.notNull())
      .addPrimaryKeyConstraint('playback_daily_pk', ['video_id', 'day'])
      .execute();
  },

  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropTable('playback_daily').ifExists().execute();
    await db.schema.dropTable('upload_starts').ifExists().execute();
    await db.schema.dropTable('leases').ifExists().execute();
    await db.schema.dropIndex('upload_sessions_open_activity_idx').ifExists().execute();
    await db.schema.alterTable('upload_sessions').dropColumn('last_activity_at').execute();
  },
};

/**
 * Version lifecycle: when a newer version replaced a ready one (it is served for
 * `versions.grace_s` after that), and when the sweep removed its media.
 */
const versionLifecycle: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('versions').addColumn('superseded_at', 'bigint').execute();
    await db.schema.alterTable('versions').addColumn('media_removed_at', 'bigint').execute();
    await db.schema.createIndex('versions_superseded_idx').on('versions').columns(['superseded_at']).execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropIndex('versions_superseded_idx').execute();
    await db.schema.alterTable('versions').dropColumn('media_removed_at').execute();
    await db.schema.alterTable('versions').dropColumn('superseded_at').execute();
  },
};

/**
 * A job may name the node that must run it (`jobs.node_id`: its work is on that node's
 * disk, e.g. a live's recording); null means any node.
 */
const jobNode: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('jobs').addColumn('node_id', 'text').execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('jobs').dropColumn('node_id').execute();
  },
};

/** Direct-to-storage (multipart) uploads share the sessions table with tus. */
const multipartUploads: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('upload_sessions').addColumn('kind', 'text', (c) => c.notNull().defaultTo('tus')).execute();
    await db.schema.alterTable('upload_sessions').addColumn('storage_upload_id', 'text').execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('upload_sessions').dropColumn('storage_upload_id').execute();
    await db.schema.alterTable('upload_sessions').dropColumn('kind').execute();
  },
};

/**
 * Remote runners and job priorities: `runner_registration_tokens` (admin-made, reusable
 * until revoked), `runners` (one per registered machine, its own hashed token, the encoders
 * it proved, drain/revoke state), and on `jobs` a `priority` (higher first, aged while
 * waiting) and `wants_encoder` (only a worker or runner that has it claims the job);
 * `videos.priority` keeps the class asked for at creation for every job of the video.
 */
const runnersPriorities: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('runner_registration_tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema
      .createTable('runners')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('registration_token_id', 'text', (c) => c.notNull())
      .addColumn('encoders', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('state', 'text', (c) => c.notNull().defaultTo('active'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema.alterTable('jobs').addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('jobs').addColumn('wants_encoder', 'text').execute();
    await db.schema.alterTable('videos').addColumn('priority', 'text', (c) => c.notNull().defaultTo('normal')).execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('videos').dropColumn('priority').execute();
    await db.schema.alterTable('jobs').dropColumn('wants_encoder').execute();
    await db.schema.alterTable('jobs').dropColumn('priority').execute();
    await db.schema.dropTable('runners').execute();
    await db.schema.dropTable('runner_registration_tokens').execute();
  },
};

/** Restream targets of a live (their URLs hold keys of other platforms) and their reported state. */
const liveIngest: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('lives').addColumn('restream_targets', 'text').execute();
    await db.schema.alterTable('lives').addColumn('restream_status', 'text').execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('lives').dropColumn('restream_status').execute();
    await db.schema.alterTable('lives').dropColumn('restream_targets').execute();
  },
};

/**
 * Caption tracks (`captions`: the WebVTT text itself, small enough for a row), a video's
 * chapters (`videos.chapters`, JSON) and what of both is published for the served version
 * (`videos.text_tracks`, JSON; core/captions/text-track-publisher.ts).
 */
const captionsChapters: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('captions')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('video_id', 'text', (col) => col.notNull().references('videos.id').onDelete('cascade'))
      .addColumn('language', 'text', (col) => col.notNull())
      .addColumn('label', 'text', (col) => col.notNull())
      .addColumn('kind', 'text', (col) => col.notNull())
      .addColumn('auto', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('vtt', 'text', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('captions_video_idx').on('captions').columns(['video_id', 'created_at']).execute();
    await db.schema.alterTable('videos').addColumn('chapters', 'text').execute();
    await db.schema.alterTable('videos').addColumn('text_tracks', 'text').execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('videos').dropColumn('text_tracks').execute();
    await db.schema.alterTable('videos').dropColumn('chapters').execute();
    await db.schema.dropIndex('captions_video_idx').execute();
    await db.schema.dropTable('captions').execute();
  },
};

/**
 * Clips and chosen posters: a clip names the video and range it was cut from; a video may
 * carry a chosen poster (JSON `{version, file}`: a file under that version's prefix) and a
 * watermark override (JSON, see core/media/watermark.ts).
 */
const clipsPosters: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('videos').addColumn('clip_of', 'text').execute();
    await db.schema.alterTable('videos').addColumn('clip_start_ms', 'bigint').execute();
    await db.schema.alterTable('videos').addColumn('clip_end_ms', 'bigint').execute();
    await db.schema.alterTable('videos').addColumn('poster', 'text').execute();
    await db.schema.alterTable('videos').addColumn('watermark', 'text').execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    for (const column of ['watermark', 'poster', 'clip_end_ms', 'clip_start_ms', 'clip_of']) {
      await db.schema.alterTable('videos').dropColumn(column).execute();
    }
  },
};

/**
 * Jobs that wait for others (chunked transcoding: the finish job runs once every chunk job
 * of its group has succeeded). `group_key` names the group a job belongs to; a job with
 * `waits_for` is not claimed while a job of that group has not succeeded.
 */
const jobGroups: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema.alterTable('jobs').addColumn('group_key', 'text').execute();
    await db.schema.alterTable('jobs').addColumn('waits_for', 'text').execute();
    await db.schema.createIndex('jobs_group_key_idx').on('jobs').column('group_key').execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropIndex('jobs_group_key_idx').execute();
    await db.schema.alterTable('jobs').dropColumn('waits_for').execute();
    await db.schema.alterTable('jobs').dropColumn('group_key').execute();
  },
};

export const migrations: Readonly<Record<string, Migration>> = {
  '0001_initial': initial,
  '0002_playback_events': playbackEvents,
  '0003_lives': lives,
  '0004_search_and_feed': searchAndFeed,
  '0005_webhook_deliveries': webhookDeliveries,
  '0006_search_order': searchOrder,
  '0007_upload_holes_and_telemetry_retention': uploadHolesAndTelemetryRetention,
  '0008_version_lifecycle': versionLifecycle,
  '0009_job_node': jobNode,
  '0010_live_ingest': liveIngest,
  '0011_captions_chapters': captionsChapters,
  '0012_clips_posters': clipsPosters,
  '0013_runners_priorities': runnersPriorities,
  '0015_multipart_uploads': multipartUploads,
  '0016_job_groups': jobGroups,
};

export interface MigrateOptions {
  /**
   * Run without Kysely's own transaction (Kysely uses one only where DDL is transactional
   * in its eyes, i.e. not on SQLite): for a caller that holds one around the whole run,
   * as the SQLite adapter does with `BEGIN IMMEDIATE`.
   */
  disableTransactions?: boolean;
  /** Replaces the migration list (tests). */
  migrations?: Readonly<Record<string, Migration>>;
}

/** Thrown when a migration fails; `migration` names it (undefined when none had started). */
export class MigrationError extends Error {
  override name = 'MigrationError';
  readonly migration: string | undefined;

  constructor(migration: string | undefined, options: { cause: unknown }) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(migration ? `migration "${migration}" failed: ${reason}` : `migrating the database failed: ${reason}`, options);
    this.migration = migration;
  }
}

/** Brings the schema up to date; running it again is a no-op. Throws `MigrationError`. */
export async function migrateToLatest(db: Kysely<Database>, opts: MigrateOptions = {}): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => opts.migrations ?? migrations } satisfies MigrationProvider,
    disableTransactions: opts.disableTransactions ?? false,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    throw new MigrationError(results?.find((r) => r.status === 'Error')?.migrationName, { cause: error });
  }
}
