/**
 * Where a live's things are: its objects in the store and the ingest URLs publishers are
 * given. Shared by the HTTP processes (routes, CLI), which show them, and by the media
 * process (live/), which writes and listens there.
 */

/** Object key of a live's file (`live/{id}/…`; the origin serves it as `/live/{id}/…`). */
export function liveObjectKey(liveId: string, file: string): string {
  return `live/${liveId}/${file}`;
}

/** The poster of a live on air (`live/{id}/poster.jpg`), refreshed every `live.poster_interval_s`. */
export const LIVE_POSTER = 'poster.jpg';

/** The RTMP application every stream key is published under (`rtmp://HOST:PORT/live`). */
export const RTMP_APP = 'live';

/**
 * The URL encoders publish to: `live.public_rtmp_url` verbatim when set (the address seen
 * from outside: port mappings, NAT, a TCP load balancer), else `rtmp://HOST:live.port/live`.
 */
export function publicRtmpUrl(live: { port: number; public_rtmp_url: string }, host: string): string {
  return live.public_rtmp_url || `rtmp://${host}:${live.port}/${RTMP_APP}`;
}

/**
 * Where encoders publish by SRT: `live.public_srt_url` verbatim when set, else
 * `srt://HOST:live.srt_port`; null when SRT is off (`srt_port` 0). Like `rtmp_url` it holds
 * no key: the publisher adds `?streamid=STREAM_KEY` (srtPublishUrl).
 */
export function publicSrtUrl(live: { srt_port: number; public_srt_url: string }, host: string): string | null {
  if (live.srt_port === 0) return null;
  return live.public_srt_url || `srt://${host}:${live.srt_port}`;
}

/** The complete SRT URL to paste into an encoder (OBS: Server), key included: shown once, like the key. */
export function srtPublishUrl(srtUrl: string, key: string): string {
  return `${srtUrl}?streamid=${encodeURIComponent(key)}`;
}
