import { z } from 'zod';
import { compileTrust } from '../core/http/client-ip.js';

/** Parses "8192x4320" or a plain pixel count. */
const pixelCount = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d+x\d+$/, 'expected WIDTHxHEIGHT or a number').transform((s) => {
    const [w, h] = s.split('x').map(Number);
    return (w ?? 0) * (h ?? 0);
  }),
]);

const rung = z.object({
  name: z.string().regex(/^[a-z0-9]+$/),
  height: z.number().int().min(16).max(4320),
  video_kbps: z.number().int().positive(),
});

const role = z.enum(['api', 'worker', 'live']);

export const configSchema = z.object({
  http: z.object({
    port: z.coerce.number().int().min(0).max(65535),
    host: z.string().min(1),
    /** false, true (loopback proxies), a hop count, or addresses/CIDRs (core/http/client-ip.ts). */
    trust_proxy: z
      .union([
        z.boolean(),
        z.number().int().min(0).max(64),
        z.array(z.string().min(1)).min(1),
        z.string().min(1).transform((list) => list.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')),
      ])
      .superRefine((trust, ctx) => {
        try {
          compileTrust(trust);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      }),
    /** Node's headersTimeout: the request line and headers must arrive within this (408). */
    headers_timeout_ms: z.coerce.number().int().min(100),
    /** The body of a non-upload request must arrive within this of its headers (408); 0 = no limit. */
    body_timeout_ms: z.coerce.number().int().min(0),
    /** A tus request moving no byte for this long is cut (the client resumes); 0 = no limit. */
    upload_idle_timeout_ms: z.coerce.number().int().min(0),
    /** Open connections per HTTP process; more are closed on arrival. 0 = no cap. */
    max_connections: z.coerce.number().int().min(0),
  }),
  public_url: z.string(),
  data_dir: z.string().min(1),
  db: z.object({ url: z.string().regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'expected sqlite:PATH or postgres://…') }),
  storage: z.object({ url: z.string().regex(/^(file:|s3:\/\/)/, 'expected file:PATH or s3://…') }),
  roles: z.array(role).min(1),
  workers: z.coerce.number().int().min(0).max(256),
  limits: z.object({
    max_upload_bytes: z.coerce.number().int().positive(),
    max_duration_s: z.coerce.number().positive(),
    max_pixels: pixelCount,
  }),
  uploads: z.object({
    expire_after_s: z.coerce.number().positive(),
    /** Uploads one API token may start per hour (0 = no limit; the admin token has none). */
    per_token_per_hour: z.coerce.number().int().min(0),
  }),
  jobs: z.object({
    max_attempts: z.coerce.number().int().min(1),
    timeout_s: z.coerce.number().positive(),
    /** ffprobe and the source download (S3) each give up after this long. */
    step_timeout_s: z.coerce.number().positive(),
    lease_s: z.coerce.number().positive(),
    backoff_base_s: z.coerce.number().min(0),
    poll_interval_ms: z.coerce.number().int().min(10),
  }),
  transcode: z.object({
    hwaccel: z.enum(['auto', 'none', 'vaapi', 'nvenc', 'qsv']),
    preset: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow']),
    concurrency: z.coerce.number().int().min(1).max(64),
    scratch_max_bytes: z.coerce.number().int().min(0),
    segment_s: z.coerce.number().int().min(1).max(10),
    ladder: z.array(rung).min(1),
    audio_kbps: z.coerce.number().int().positive(),
    max_audio_tracks: z.coerce.number().int().min(1).max(32),
    /** Highest output frame rate: faster sources keep every 2nd (3rd…) frame, e.g. 120 → 60. */
    max_fps: z.coerce.number().int().min(10).max(240),
    storyboard: z.object({
      interval_s: z.coerce.number().positive(),
      tile_width: z.coerce.number().int().min(16).max(640),
      columns: z.coerce.number().int().min(1).max(50),
      rows: z.coerce.number().int().min(1).max(50),
    }),
  }),
  versions: z.object({
    /** A version replaced by a newer one is still served this long (players mid-way finish), then its media is deleted. */
    grace_s: z.coerce.number().min(0),
  }),
  catalog: z.object({
    /** The trending feed re-ranks at most this often per HTTP process; new views count after at most this long. */
    feed_refresh_s: z.coerce.number().min(0).max(3600),
  }),
  telemetry: z.object({
    /** Raw playback events are kept this long, then rolled up per day; at least the feed's 7-day window + 1. */
    retention_days: z.coerce.number().int().min(8),
    /** Event batches one client address may post per second, per HTTP process (burst: twice this). */
    per_address_batches_per_s: z.coerce.number().positive(),
    /** Event batches all clients together may post per second, per HTTP process (burst: twice this). */
    total_batches_per_s: z.coerce.number().positive(),
    /** Admitted events are written at least this often (write-behind). */
    flush_interval_ms: z.coerce.number().int().min(10).max(60_000),
    /** Most events waiting to be written per HTTP process; more are dropped (and counted). */
    buffer_max_events: z.coerce.number().int().min(1),
  }),
  origin: z.object({
    cache_bytes: z.coerce.number().int().min(0),
    max_cached_object_bytes: z.coerce.number().int().min(0),
    mutable_ttl_ms: z.coerce.number().int().min(0).max(1000),
    lookup_ttl_ms: z.coerce.number().int().min(0).max(2000),
    mode: z.enum(['serve', 'redirect']),
    redirect_ttl_s: z.coerce.number().int().min(1).max(604800),
  }),
  live: z.object({
    port: z.coerce.number().int().min(0).max(65535),
    reconnect_window_s: z.coerce.number().min(0),
    window_segments: z.coerce.number().int().min(6).max(100),
    preset: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium']),
    passthrough_max_ratio: z.coerce.number().min(0),
    max_lag_s: z.coerce.number().positive(),
    vod_niceness: z.coerce.number().int().min(0).max(19),
    bad_key_limit: z.coerce.number().int().min(1),
    /** `rtmp_url` returned by the API verbatim (port mappings, NAT); empty = built from public_url/request host and `port`. */
    public_rtmp_url: z.union([z.literal(''), z.string().regex(/^rtmps?:\/\/[^/\s]+(\/\S*)?$/, 'expected rtmp://HOST[:PORT]/APP')]),
    /** Seconds an RTMP connection has to finish its handshake and ask to publish. */
    handshake_timeout_s: z.coerce.number().positive(),
    /** An RTMP connection silent (nothing read or written) this long is closed. */
    idle_timeout_s: z.coerce.number().positive(),
    max_connections: z.coerce.number().int().min(1),
    max_connections_per_address: z.coerce.number().int().min(1),
    /** Before its stream key is accepted, a connection may announce no larger RTMP message… */
    prepublish_max_message_bytes: z.coerce.number().int().min(4096).max(0xffffff),
    /** …use no more chunk streams… */
    prepublish_max_chunk_streams: z.coerce.number().int().min(2).max(65599),
    /** …and hold no more bytes of messages in the server's buffers. */
    prepublish_max_buffered_bytes: z.coerce.number().int().min(4096),
  }),
  signing: z.object({
    secret: z.string(),
    ttl_s: z.coerce.number().int().min(1),
    bind_ip: z.boolean(),
  }),
  admin_token: z.string(),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  plugins: z.array(
    z.object({
      name: z.string().min(1),
      path: z.string().optional(),
      config: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
});

export type Config = z.infer<typeof configSchema>;
export type Role = z.infer<typeof role>;
export type LadderRungConfig = z.infer<typeof rung>;
