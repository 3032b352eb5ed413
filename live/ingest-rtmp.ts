/**
 * RTMP ingest (an adapter of core/live/ingest.ts): node-media-server 4 (one instance per process: the media process) with our
 * own admission and an in-process FLV feed for the packager.
 *
 * Design notes:
 * - Admission happens in NMS's `prePublish`, which it emits synchronously before it takes
 *   the publisher. The key check is async (a DB lookup), so the socket is paused there:
 *   nothing more is read from a publisher until it is accepted. A refused publisher's socket
 *   is destroyed; nothing it sent ever reaches a subscriber (ours attach only on acceptance).
 * - Before admission a connection is held to the limits of rtmp-connection-gate.ts
 *   (connections per address and in all, handshake and idle timeouts, what NMS may buffer
 *   for it); an accepted publisher is released from them before its socket resumes.
 * - Wrong keys are slowed down per address (key-guess-throttle.ts, shared by every ingest).
 * - The packager is fed in-process: a subscriber session with an empty ip (NMS treats it as
 *   internal, like its own recorder) gets the FLV header, the cached metadata, sequence
 *   headers and GOP, then every tag. Compared with ffmpeg pulling RTMP from the relay this
 *   saves an RTMP handshake and lets ffmpeg see EOF the moment the publisher is gone.
 * - A dropped publisher is noticed on its socket's `close` (NMS's donePublish comes ~30 s
 *   late because of its own resume window).
 * - NMS logs through console.log and forces level "debug"; its logger is rerouted into pino
 *   (one level lower: NMS info → debug). Its JSON store (relay tasks, stream history holding stream keys in
 *   clear) is not opened: we use none of it.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { IngestHandler, IngestPublisher, LiveIngest } from '../core/live/ingest.js';
import { RTMP_APP } from '../core/live/live-locations.js';
import type { Logger } from '../core/logger.js';
import type { Socket } from 'node:net';
import { KeyGuessThrottle } from './key-guess-throttle.js';
import { RtmpConnectionGate, type ConnectionLimits } from './rtmp-connection-gate.js';
import NodeMediaServer, { type NmsSession } from 'node-media-server';
import Context from 'node-media-server/src/core/context.js';
import nmsLogger from 'node-media-server/src/core/logger.js';

/** The RTMP connection limits of the `live.*` config keys. */
export function connectionLimits(live: Config['live']): ConnectionLimits {
  return {
    handshakeTimeoutMs: live.handshake_timeout_s * 1000,
    idleTimeoutMs: live.idle_timeout_s * 1000,
    maxConnections: live.max_connections,
    maxConnectionsPerAddress: live.max_connections_per_address,
    maxMessageBytes: live.prepublish_max_message_bytes,
    maxChunkStreams: live.prepublish_max_chunk_streams,
    maxBufferedBytes: live.prepublish_max_buffered_bytes,
  };
}

export interface IngestOptions {
  port: number;
  host: string;
  logger: Logger;
  handler: IngestHandler;
  /** Wrong keys per address per minute before the address is refused outright. */
  badKeyLimit: number;
  /** Delay before a refusal is sent (slows down key guessing). */
  refusalDelayMs?: number;
  limits: ConnectionLimits;
}

/** NMS is chatty: its info is our debug, its warnings (e.g. history disabled) our info. */
const NMS_LEVELS: Record<string, 'trace' | 'debug' | 'info' | 'warn'> = {
  trace: 'trace',
  debug: 'trace',
  info: 'debug',
  warn: 'info',
  error: 'warn',
};

function addressOf(session: NmsSession): string {
  return session.socket?.remoteAddress ?? session.ip.replace(/:\d+$/, '');
}

/** NMS registers each RTMP session in its context right after creating it. */
function sessionOfSocket(socket: Socket): NmsSession | undefined {
  for (const session of Context.sessions.values()) if (session.socket === socket) return session;
  return undefined;
}

export class RtmpIngest implements LiveIngest {
  readonly protocol = 'rtmp';
  private nms: NodeMediaServer | undefined;
  private readonly throttle: KeyGuessThrottle;
  private readonly gate: RtmpConnectionGate;

  constructor(private readonly opts: IngestOptions) {
    this.throttle = new KeyGuessThrottle(opts.badKeyLimit, opts.refusalDelayMs);
    this.gate = new RtmpConnectionGate(opts.limits, opts.logger, sessionOfSocket);
  }

  async start(): Promise<void> {
    const log = this.opts.logger.child({ component: 'nms' });
    nmsLogger.log = (message: string, level = 'info') => log[NMS_LEVELS[level] ?? 'debug'](message);
    const nms = new NodeMediaServer({ bind: this.opts.host, rtmp: { port: this.opts.port } });
    // Left closed, NMS skips its relay/record/history services.
    (nms as unknown as { store: { open(): Promise<void> } }).store.open = async () => undefined;
    nms.on('prePublish', this.onPrePublish);
    nms.on('prePlay', this.onPrePlay);
    const listener = nms.rtmpServer.tcpServer;
    if (!listener) throw new Error('node-media-server made no RTMP listener');
    this.gate.install(listener);
    await nms.run();
    this.nms = nms;
    this.opts.logger.info({ port: this.opts.port }, 'rtmp ingest listening');
  }

  async close(): Promise<void> {
    // NMS's events live on its process-wide context: a closed server must stop answering them.
    Context.eventEmitter.off('prePublish', this.onPrePublish);
    Context.eventEmitter.off('prePlay', this.onPrePlay);
    await this.nms?.stop();
    this.nms = undefined;
  }

  private readonly onPrePublish = (session: NmsSession): void => this.prePublish(session);
  /** A player (e.g. ffmpeg pulling the relay) has asked in time: no deadline, the pre-publish limits stay. */
  private readonly onPrePlay = (session: NmsSession): void => {
    if (session.socket) this.gate.playing(session.socket);
  };

  /** Decides synchronously that the answer will come later: the socket waits meanwhile. */
  private prePublish(session: NmsSession): void {
    const socket = session.socket;
    if (!socket || session.streamApp !== RTMP_APP) {
      session.close();
      return;
    }
    socket.pause();
    const address = addressOf(session);
    void this.decide(session, address).then(
      (ok) => {
        if (socket.destroyed) return;
        if (ok) {
          this.gate.accepted(socket);
          socket.resume();
        }
        else socket.destroy();
      },
      (err: unknown) => {
        this.opts.logger.error({ err }, 'live: admission failed');
        socket.destroy();
      },
    );
  }

  private async decide(session: NmsSession, address: string): Promise<boolean> {
    const { ok, blocked } = await this.throttle.admit(address, () => this.opts.handler.admit({ key: session.streamName, address, protocol: 'rtmp' }));
    if (ok) this.opts.handler.published(this.publisherOf(session));
    else this.opts.logger.warn({ address, blocked }, 'live: publish refused (unknown, revoked or busy stream key)');
    return ok;
  }

  private publisherOf(session: NmsSession): IngestPublisher {
    const closeCallbacks: (() => void)[] = [];
    let closed = false;
    session.socket?.once('close', () => {
      closed = true;
      for (const cb of closeCallbacks.splice(0)) cb();
    });
    return {
      id: session.id,
      protocol: 'rtmp',
      key: session.streamName,
      address: addressOf(session),
      metadata: () => ({
        width: session.videoWidth || 0,
        height: session.videoHeight || 0,
        fps: session.videoFramerate || 0,
        videoKbps: session.videoDatarate || 0,
        videoCodecId: session.videoCodec || 0,
        audioCodecId: session.audioCodec || 0,
      }),
      attach(onData) {
        const broadcast = Context.broadcasts.get(session.streamPath);
        if (!broadcast) return () => undefined;
        const sink = { id: `framecast-${randomBytes(6).toString('hex')}`, ip: '', protocol: 'flv', streamPath: session.streamPath, sendBuffer: onData };
        broadcast.postPlay(sink);
        let attached = true;
        return () => {
          if (!attached) return;
          attached = false;
          broadcast.donePlay(sink);
        };
      },
      onClose(callback) {
        if (closed || session.socket?.destroyed) callback();
        else closeCallbacks.push(callback);
      },
      disconnect() {
        session.socket?.destroy();
      },
    };
  }
}
