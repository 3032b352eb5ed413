import { z } from 'zod';
import { compileTrust } from '../core/http/client-ip.js';
import { watermarkPlacement } from '../core/media/watermark.js';

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

/** A CSP frame-ancestors source: `*`, or scheme://host[:port] with an optional `*.` subdomain wildcard. */
const FRAME_ANCESTOR = /^(\*|https?:\/\/(\*\.)?[a-z0-9.-]+(:\d{1,5})?)$/i;

const role = z.enum(['api', 'worker', 'live']);

/** A restream target: `rtmp://` or `rtmps://` with a host and an application/key path. */
export const restreamTargetUrl = z
  .string()
  .trim()
  .max(2048)
  .regex(/^rtmps?:\/\/[^/\s]+\/\S+$/, 'expected rtmp(s)://HOST[:PORT]/APP/KEY');
/** IPv4 addresses as a YAML list or a comma-separated string (environment variables). */
const ipv4List = z.union([
  z.array(z.ipv4()),
  z.string().transform((list, ctx) => {
    const items = list.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
    for (const item of items) if (!z.ipv4().safeParse(item).success) ctx.addIssue({ code: 'custom', message: `${item} is not an IPv4 address` });
    return items;
  }),
]);

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
    /** Largest image accepted by POST /v1/videos/:id/poster. */
    max_poster_bytes: z.coerce.number().int().positive(),
  }),
  uploads: z.object({
    expire_after_s: z.coerce.number().positive(),
    /** Uploads one API token may start per hour (0 = no limit; the admin token has none). */
    per_token_per_hour: z.coerce.number().int().min(0),
    /** Direct (multipart) uploads: the size of each part but the last (S3's minimum is 5 MiB). */
    multipart_part_bytes: z.coerce.number().int().min(5 * 1024 * 1024).max(5 * 1024 ** 3),
    /** How long a part URL stays valid (the resume listing signs fresh ones). */
    multipart_url_ttl_s: z.coerce.number().int().min(60).max(7 * 86400),
  }),
  jobs: z.object({
    max_attempts: z.coerce.number().int().min(1),
    timeout_s: z.coerce.number().positive(),
    /** ffprobe and the source download (S3) each give up after this long. */
    step_timeout_s: z.coerce.number().positive(),
    lease_s: z.coerce.number().positive(),
    backoff_base_s: z.coerce.number().min(0),
    poll_interval_ms: z.coerce.number().int().min(10),
    /** Job priorities (core/jobs/priority.ts). */
    priority: z.object({
      /** A waiting job gains one priority point per this many seconds (nothing starves). */
      ageing_s: z.coerce.number().positive(),
      /** Sources up to this size count as short and get `short_boost`. */
      short_source_bytes: z.coerce.number().int().min(0),
      short_boost: z.coerce.number().int(),
      live_archive_boost: z.coerce.number().int(),
    }),
  }),
  transcode: z.object({
    hwaccel: z.enum(['auto', 'none', 'vaapi', 'nvenc', 'qsv']),
    /**
     * An encoder every VOD job must be run with (e.g. `h264_nvenc`): only workers and runners
     * whose trial encode of it worked claim the jobs; '' = any.
     */
    require_encoder: z.enum(['', 'libx264', 'h264_nvenc', 'h264_qsv', 'h264_vaapi']),
    preset: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow']),
    concurrency: z.coerce.number().int().min(1).max(64),
    scratch_max_bytes: z.coerce.number().int().min(0),
    segment_s: z.coerce.number().int().min(1).max(10),
    /** Sources longer than this many seconds are transcoded in chunks, in parallel (0 = never). */
    chunk_min_s: z.coerce.number().min(0),
    /** About how long each chunk is (cut at a source keyframe on a segment boundary). */
    chunk_s: z.coerce.number().positive(),
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
    /** A mark burned into every rung (core/media/watermark.ts); checked at start-up. */
    watermark: watermarkPlacement.extend({
      /** Path of the operator's PNG or JPEG; '' = no watermark. */
      image: z.string(),
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
  embed: z.object({
    /** frame-ancestors of the embed player: `*`, or origins (`https://a.example`, `https://*.example.com`). */
    allowed_origins: z
      .array(z.string().regex(FRAME_ANCESTOR, 'expected "*" or an origin such as https://blog.example.com (https://*.example.com for subdomains)'))
      .min(1),
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
    /** LL-HLS part target, seconds: no part is longer. */
    part_s: z.coerce.number().min(0.1).max(2),
    /** Seconds a viewer may seek back in a live; 0 = the sliding window of `window_segments`. */
    dvr_window_s: z.coerce.number().min(0).max(86_400),
    preset: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium']),
    passthrough_max_ratio: z.coerce.number().min(0),
    max_lag_s: z.coerce.number().positive(),
    vod_niceness: z.coerce.number().int().min(0).max(19),
    bad_key_limit: z.coerce.number().int().min(1),
    /** `rtmp_url` returned by the API verbatim (port mappings, NAT); empty = built from public_url/request host and `port`. */
    public_rtmp_url: z.union([z.literal(''), z.string().regex(/^rtmps?:\/\/[^/\s]+(\/\S*)?$/, 'expected rtmp://HOST[:PORT]/APP')]),
    /** Seconds an RTMP connection has to finish its handshake and ask to publish (a WHIP session: to connect and send a keyframe). */
    handshake_timeout_s: z.coerce.number().positive(),
    /** An RTMP connection silent (nothing read or written) this long is closed; a WHIP publisher sending no RTP this long is gone. */
    idle_timeout_s: z.coerce.number().positive(),
    max_connections: z.coerce.number().int().min(1),
    max_connections_per_address: z.coerce.number().int().min(1),
    /** Before its stream key is accepted, a connection may announce no larger RTMP message… */
    prepublish_max_message_bytes: z.coerce.number().int().min(4096).max(0xffffff),
    /** …use no more chunk streams… */
    prepublish_max_chunk_streams: z.coerce.number().int().min(2).max(65599),
    /** …and hold no more bytes of messages in the server's buffers. */
    prepublish_max_buffered_bytes: z.coerce.number().int().min(4096),
    /** UDP port of the SRT ingest; 0 = SRT off. */
    srt_port: z.coerce.number().int().min(0).max(65535),
    /** The SRT listener's receive latency (the larger of this and the publisher's wins). */
    srt_latency_ms: z.coerce.number().int().min(20).max(8000),
    /** SRT encryption passphrase every publisher must use; empty = none. */
    srt_passphrase: z.union([z.literal(''), z.string().min(10).max(79)]),
    srt_max_publishers: z.coerce.number().int().min(1),
    /** `srt_url` returned by the API verbatim (before `?streamid=`); empty = `srt://HOST:srt_port`. */
    public_srt_url: z.union([z.literal(''), z.string().regex(/^srt:\/\/[^/?\s]+$/, 'expected srt://HOST:PORT')]),
    /** Restream targets every live carries, besides its own (`restream` on the API). */
    restream: z.array(z.object({ url: restreamTargetUrl }).strict()).max(10),
    /** Seconds between two refreshes of a live's poster while it is on air. */
    poster_interval_s: z.coerce.number().min(1).max(3600),
    /** WHIP: addresses to gather ICE host candidates on besides the interfaces' (loopback is skipped otherwise). */
    whip_host_addresses: ipv4List,
    /** WHIP: addresses announced as extra host candidates, with the same ports (a 1:1 NAT's public IP). */
    whip_public_ips: ipv4List,
    /** WHIP: ICE UDP port range; both 0 = any free port. */
    whip_udp_port_min: z.coerce.number().int().min(0).max(65535),
    whip_udp_port_max: z.coerce.number().int().min(0).max(65535),
    /** WHIP: seconds between keyframe requests (RTCP PLI) to the publisher. */
    whip_keyframe_interval_s: z.coerce.number().positive(),
  }).refine((live) => (live.whip_udp_port_min === 0 && live.whip_udp_port_max === 0) || (live.whip_udp_port_min > 0 && live.whip_udp_port_max > live.whip_udp_port_min), {
    message: 'whip_udp_port_min and whip_udp_port_max: both 0, or a range with min < max',
    path: ['whip_udp_port_min'],
  }),
  transcription: z.object({
    /** Automatic captions: none, pocketsphinx (Debian's, offline) or whisper-cpp (an installed whisper.cpp). */
    engine: z.enum(['none', 'pocketsphinx', 'whisper-cpp']),
    /** Languages the engine transcribes (BCP 47); the first is what a new video is transcribed in. */
    languages: z.array(z.string().min(2).max(35)).min(1),
    /** Transcribe every newly ready video (queued after its ladder); false: only on request. */
    auto: z.boolean(),
    pocketsphinx: z.object({
      binary: z.string().min(1),
      /** Acoustic model directory, language model and dictionary; empty: the installed en-us ones. */
      hmm: z.string(),
      lm: z.string(),
      dict: z.string(),
    }),
    whisper_cpp: z.object({
      /** The whisper.cpp command (whisper-cli) and its ggml model file. */
      binary: z.string(),
      model: z.string(),
      threads: z.coerce.number().int().min(1).max(64),
    }),
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
