/**
 * The ingest seam: how a publisher's media reaches a live's broadcast, whatever protocol it
 * arrived by. Core owns it; each protocol is one adapter file under live/ (ingest-rtmp.ts,
 * ingest-srt.ts, …) that the live role starts from a typed map (live/live-role.ts), and the
 * broadcast logic (live/live-broadcast.ts) only ever sees an `IngestPublisher`.
 *
 * The contract, in order:
 * 1. Authentication. A publisher names a stream key (RTMP: the stream name; SRT: the
 *    `streamid`; WHIP: the bearer token). Before any of its media is read, the adapter asks
 *    `IngestHandler.admit()`; on `false` it refuses the publisher in its protocol's own way
 *    (RTMP: socket closed; SRT: handshake rejected; WHIP: 401) and nothing it sent reaches a
 *    broadcast. Adapters slow down or block addresses that guess keys; keys are never logged.
 * 2. Hand-over. On `true` the adapter calls `IngestHandler.published()` once with an
 *    `IngestPublisher`. Its media is an FLV tag stream (H.264 + AAC, FLV codec ids in
 *    `metadata()`): `attach()` must first replay the FLV header, the onMetaData tag, the
 *    sequence headers and the current GOP (so a packager run can start on a keyframe), then
 *    pass every tag, one tag per callback. Protocols that do not carry FLV remux into it
 *    (live/flv-feed.ts turns an ffmpeg's FLV output into such a publisher). The broadcast
 *    may attach and detach several times during one publish (a packager restart, a
 *    restream target): every attach replays the same way.
 * 3. End. `onClose()` fires once when the publisher is gone for any reason (disconnect,
 *    timeout, `disconnect()` called). A publisher that comes back is a new admission and a
 *    new `IngestPublisher` with the same key: the broadcast continues the live if it
 *    returns within `live.reconnect_window_s` (a discontinuity), whatever the protocol of
 *    either publish.
 */

/** The protocols a publisher may use: each one has exactly one adapter (live/live-role.ts). */
export type IngestProtocol = 'rtmp' | 'srt' | 'whip';

/** What the publisher's encoder declared (FLV onMetaData); 0 where it said nothing. */
export interface IngestMetadata {
  width: number;
  height: number;
  fps: number;
  /**
   * 0 when undeclared. An SRT (MPEG-TS) ingest is then measured over its first GOP
   * (live/gop-bitrate.ts) before the broadcast decides whether the top rung is copied; other
   * ingests without one get the top rung encoded, never copied.
   */
  videoKbps: number;
  /** FLV codec id: 7 = H.264. */
  videoCodecId: number;
  /** FLV codec id: 10 = AAC; 0 = none declared. */
  audioCodecId: number;
}

/** An accepted publisher, whatever its protocol. */
export interface IngestPublisher {
  /** Unique per connection (logs). */
  readonly id: string;
  readonly protocol: IngestProtocol;
  /** The stream key it was admitted with (a secret: never log it). */
  readonly key: string;
  /** The peer's address (logs, limits). */
  readonly address: string;
  metadata(): IngestMetadata;
  /** Subscribes to the media as FLV tags (see the contract above); returns detach. */
  attach(onData: (tag: Buffer) => void): () => void;
  /** Registers a callback for the publisher going away (called at once if it already has). */
  onClose(callback: () => void): void;
  /** Drops the publisher (its `onClose` callbacks then fire). */
  disconnect(): void;
  /**
   * True once the publisher said it is done (a WHIP DELETE), read when it closes: the live
   * then ends at once instead of waiting `live.reconnect_window_s` for a return. Protocols
   * that cannot say so (RTMP, SRT: a closed connection may be a drop) leave it out.
   */
  finished?(): boolean;
}

/** What an ingest adapter asks of its owner (the live sessions of the media process). */
export interface IngestHandler {
  /** May this key publish now? (Unknown, revoked, ended, or already publishing: no.) */
  admit(request: { key: string; address: string; protocol: IngestProtocol }): Promise<boolean>;
  /** An admitted publisher is streaming (called once per admission that succeeded). */
  published(publisher: IngestPublisher): void;
}

/** One protocol's listener in the media process. */
export interface LiveIngest {
  readonly protocol: IngestProtocol;
  /** Listens; resolves once publishers can connect. */
  start(): Promise<void>;
  /** Stops listening and drops its publishers. */
  close(): Promise<void>;
}
