/**
 * WHIP ingest (RFC 9725): the adapter behind the ingest seam (core/live/ingest.ts) for WebRTC
 * publishers (OBS 30+, browsers). The HTTP side (core/http/routes/live-whip.ts) checks the
 * stream key and relays offers and DELETEs here, over this node's Unix socket
 * (core/live/whip-relay.ts).
 *
 * One session per publisher:
 *
 *   offer ─▶ admit(key) ─▶ WhipPeer answers ─▶ RTP ─▶ RtpForwarder ─▶ ffmpeg ─▶ FLV publisher
 *                                                                                  │
 *                          first keyframe in the FLV ──▶ IngestHandler.published() ◀┘
 *
 * Design notes:
 * - The publisher joins the broadcast only when media really flows (the first keyframe out of
 *   ffmpeg, within `live.handshake_timeout_s`): an offer whose ICE never connects does not
 *   put the live on air.
 * - Keyframes are asked for (RTCP PLI) every 300 ms until the first one, then every
 *   `live.whip_keyframe_interval_s`: a browser encoder sends them only when asked, and a
 *   packet lost for good then spoils the picture at most that long.
 * - The session ends when the peer connection fails or closes, when no RTP arrives for
 *   `live.idle_timeout_s`, or when ffmpeg exits; the broadcast then waits out the reconnect
 *   window as for any ingest. A DELETE is the publisher saying it is done: the live ends at
 *   once (and a recording becomes its VOD).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import type { Config } from '../config/schema.js';
import type { IngestHandler, IngestPublisher, LiveIngest } from '../core/live/ingest.js';
import { MAX_SDP_BYTES, WHIP_ADDRESS_HEADER, WHIP_KEY_HEADER, WHIP_SESSION_HEADER } from '../core/live/whip-relay.js';
import type { Logger } from '../core/logger.js';
import { ffmpegFlvPublisher, type FfmpegPublisher } from './ffmpeg-flv-publisher.js';
import { isFlvVideoKeyframe } from './flv-tags.js';
import { RtpForwarder } from './rtp-forwarder.js';
import { WhipPeer, type WhipPeerOptions } from './whip-peer.js';

/** Keyframe requests before the first keyframe arrives. */
const FIRST_KEYFRAME_PLI_MS = 300;
/** Opus is decoded once here and AAC is encoded again by the packager: keep this generation transparent. */
const BRIDGE_AUDIO_KBPS = 192;

export interface WhipIngestOptions {
  socketPath: string;
  live: Config['live'];
  ffmpegPath: string;
  logger: Logger;
  handler: IngestHandler;
}

/** The ICE settings of the `live.whip_*` config keys. */
export function whipPeerOptions(live: Config['live']): WhipPeerOptions {
  return {
    hostAddresses: live.whip_host_addresses,
    publicAddresses: live.whip_public_ips,
    udpPorts: live.whip_udp_port_min > 0 ? [live.whip_udp_port_min, live.whip_udp_port_max] : undefined,
    connectTimeoutMs: live.handshake_timeout_s * 1000,
  };
}

/** One WHIP publisher: its peer connection, RTP forwarding and remuxing ffmpeg. */
class WhipSession {
  readonly id = randomBytes(16).toString('hex');
  private publisher: FfmpegPublisher | undefined;
  private forwarder: RtpForwarder | undefined;
  private timers: NodeJS.Timeout[] = [];
  private lastRtpAt = Date.now();
  /** Set by a DELETE: the live ends instead of waiting for a return. */
  private finished = false;
  private closed = false;

  constructor(
    readonly liveId: string,
    private readonly key: string,
    private readonly address: string,
    private readonly peer: WhipPeer,
    private readonly opts: WhipIngestOptions,
    private readonly log: Logger,
    private readonly onEnd: (session: WhipSession) => void,
  ) {
    peer.onClose(() => this.close('the peer connection closed'));
  }

  /** Answers the offer and starts the media path; the publisher joins the broadcast at its first keyframe. */
  async start(offer: string): Promise<string> {
    const { sdp, tracks } = await this.peer.answer(offer);
    this.forwarder = await RtpForwarder.open({ tracks, audioKbps: BRIDGE_AUDIO_KBPS, preset: this.opts.live.preset, logger: this.log });
    const forwarder = this.forwarder;
    for (const kind of ['video', 'audio'] as const) {
      this.peer.receive(
        kind,
        (packet) => {
          this.lastRtpAt = Date.now();
          forwarder.rtp(kind, packet);
        },
        (packet) => forwarder.rtcp(kind, packet),
      );
    }
    const base = ffmpegFlvPublisher({
      protocol: 'whip',
      key: this.key,
      address: this.address,
      ffmpegPath: this.opts.ffmpegPath,
      inputArgs: forwarder.inputArgs(),
      codecArgs: forwarder.codecArgs(),
      logger: this.log,
    });
    this.publisher = base;
    base.onClose(() => this.close('ffmpeg (RTP → FLV) ended'));
    const publisher: IngestPublisher = { ...base, finished: () => this.finished };
    this.log.info({ session: this.id, address: this.address, codecs: tracks.map((t) => t.codec) }, 'whip: offer answered');
    this.awaitFirstKeyframe(publisher);
    return sdp;
  }

  private awaitFirstKeyframe(publisher: IngestPublisher): void {
    const pli = setInterval(() => this.peer.requestKeyframe(), FIRST_KEYFRAME_PLI_MS);
    const deadline = setTimeout(() => this.close('no keyframe arrived in time'), this.opts.live.handshake_timeout_s * 1000);
    this.timers.push(pli, deadline);
    const detach = publisher.attach((tag) => {
      if (!isFlvVideoKeyframe(tag) || this.closed) return;
      queueMicrotask(detach);
      clearInterval(pli);
      clearTimeout(deadline);
      this.onAir(publisher);
    });
  }

  private onAir(publisher: IngestPublisher): void {
    const live = this.opts.live;
    this.timers.push(
      setInterval(() => this.peer.requestKeyframe(), live.whip_keyframe_interval_s * 1000),
      setInterval(() => {
        if (Date.now() - this.lastRtpAt > live.idle_timeout_s * 1000) this.close('no media arrived for live.idle_timeout_s');
      }, 1000),
    );
    this.log.info({ session: this.id }, 'whip: media flowing; publishing');
    this.opts.handler.published(publisher);
  }

  /** DELETE: the publisher is done; the live ends. */
  finish(): void {
    this.finished = true;
    this.close('the publisher ended the session (DELETE)');
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.log.info({ session: this.id, reason }, 'whip: session ended');
    this.peer.close();
    this.publisher?.disconnect();
    this.forwarder?.close();
    this.onEnd(this);
  }
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_SDP_BYTES) chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => resolve(size <= MAX_SDP_BYTES ? Buffer.concat(chunks).toString('utf8') : undefined));
  });
}

function reply(res: ServerResponse, status: number, body = '', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/sdp', ...headers });
  res.end(body);
}

const OFFER_PATH = /^\/lives\/([A-Za-z0-9_-]{1,64})\/sessions$/;
const SESSION_PATH = /^\/lives\/([A-Za-z0-9_-]{1,64})\/sessions\/([0-9a-f]{32})$/;

export class WhipIngest implements LiveIngest {
  readonly protocol = 'whip' as const;
  private server: Server | undefined;
  private readonly sessions = new Map<string, WhipSession>();

  constructor(private readonly opts: WhipIngestOptions) {}

  async start(): Promise<void> {
    await mkdir(dirname(this.opts.socketPath), { recursive: true });
    // A socket file left by a media process that died would make listen fail.
    await rm(this.opts.socketPath, { force: true });
    const server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        this.opts.logger.error({ err }, 'whip: request failed');
        if (!res.headersSent) reply(res, 500);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.socketPath, () => resolve());
    });
    this.server = server;
    this.opts.logger.info({ socket: this.opts.socketPath }, 'whip ingest listening');
  }

  async close(): Promise<void> {
    for (const s of [...this.sessions.values()]) s.close('the media process is stopping');
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
    await rm(this.opts.socketPath, { force: true });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '';
    const offerMatch = OFFER_PATH.exec(url);
    if (req.method === 'POST' && offerMatch) return this.offer(offerMatch[1]!, req, res);
    const sessionMatch = SESSION_PATH.exec(url);
    if (req.method === 'DELETE' && sessionMatch) {
      const session = this.sessions.get(sessionMatch[2]!);
      if (!session || session.liveId !== sessionMatch[1]) return reply(res, 404);
      session.finish();
      return reply(res, 200);
    }
    reply(res, 404);
  }

  private async offer(liveId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const key = String(req.headers[WHIP_KEY_HEADER] ?? '');
    const address = String(req.headers[WHIP_ADDRESS_HEADER] ?? '');
    const offer = await readBody(req);
    if (!offer) return reply(res, 400, 'the offer is too large');
    // The HTTP process checked that the key is this live's; admission decides whether it may publish now.
    if (!(await this.opts.handler.admit({ key, address, protocol: 'whip' }))) return reply(res, 409, 'the live is being published already, has ended, or a plugin refused it');
    const log = this.opts.logger.child({ live_id: liveId });
    const session = new WhipSession(liveId, key, address, new WhipPeer(whipPeerOptions(this.opts.live)), this.opts, log, (s) => this.sessions.delete(s.id));
    this.sessions.set(session.id, session);
    let answer: string;
    try {
      answer = await session.start(offer);
    } catch (err) {
      log.info({ err, address }, 'whip: the offer could not be answered');
      session.close('the offer could not be answered');
      return reply(res, 400, (err as Error).message);
    }
    reply(res, 201, answer, { [WHIP_SESSION_HEADER]: session.id });
  }
}
