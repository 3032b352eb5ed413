/**
 * SRT ingest (an adapter of core/live/ingest.ts): `srt://HOST:PORT?streamid=STREAM_KEY`, as
 * OBS's SRT output and `ffmpeg -f mpegts srt://…` publish. MPEG-TS (H.264 + AAC) inside.
 *
 * Design: ffmpeg's libsrt listener accepts one caller per process and cannot refuse a
 * stream id, and srt-live-transmit has no admission hook either. So one UDP socket of ours
 * owns the public port and speaks only the SRT handshake (RFC draft-sharabayko-srt §3.2.1;
 * handshake packets are never encrypted), and each admitted publisher gets its own ffmpeg
 * listening on a loopback port, to which its packets are relayed untouched:
 *
 *   caller ──induction──▶ us: we answer with a cookie (HMAC of its address and the minute)
 *   caller ──conclusion(streamid, cookie)──▶ us: the key is checked (IngestHandler.admit,
 *     slowed down for guessers); refused → a rejection handshake (SRT_REJX_FORBIDDEN 1403),
 *     the caller fails at once, nothing was spawned
 *   admitted → ffmpeg `srt://127.0.0.1:P?mode=listener` → FLV on stdout (ffmpeg-flv-publisher.ts);
 *     a relay socket does the induction with it, then hands it the caller's conclusion with
 *     its cookie; its answer goes back to the caller and from then on every datagram is
 *     relayed both ways (data, ACK/NAK, keepalive, shutdown)
 *
 * So libsrt on both ends does everything that matters: TSBPD and the latency negotiation
 * (the larger of the caller's `latency` and `live.srt_latency_ms` wins, as SRT defines),
 * retransmission, and the encryption with `live.srt_passphrase` (a wrong or missing
 * passphrase is refused by the ffmpeg's libsrt, and the rejection reaches the caller). The
 * publisher goes on air when that ffmpeg's answer accepts the caller; it is gone when the
 * ffmpeg exits (the caller's shutdown, or SRT's peer idle timeout), and the caller is then
 * sent a shutdown. Cost per publisher: one remuxing ffmpeg (copy, a few % of a core) and a
 * relay hop on loopback.
 */
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { IngestHandler, LiveIngest } from '../core/live/ingest.js';
import type { Logger } from '../core/logger.js';
import { ffmpegFlvPublisher, type FfmpegPublisher } from './ffmpeg-flv-publisher.js';
import { KeyGuessThrottle } from './key-guess-throttle.js';

export interface SrtIngestOptions {
  port: number;
  host: string;
  logger: Logger;
  handler: IngestHandler;
  ffmpegPath: string;
  /** The listener's receive latency; a caller asking more gets more. */
  latencyMs: number;
  /** "" = no encryption; else every publisher must use it. */
  passphrase: string;
  badKeyLimit: number;
  /** Publishers at once (each one an ffmpeg). */
  maxPublishers: number;
  refusalDelayMs?: number;
}

/** SRT header and handshake layout (all big-endian). */
const HEADER_BYTES = 16;
const CONTROL_BIT = 0x80;
const CONTROL_HANDSHAKE = 0x0000;
const CONTROL_SHUTDOWN = 0x0005;
const HS = { version: 16, extensionField: 22, type: 36, socketId: 40, cookie: 44, extensions: 64 } as const;
const HS_INDUCTION = 1;
const HS_CONCLUSION = 0xffffffff;
/** Handshake types from 1000 on are rejection reasons; 1000 + HTTP 403. */
const REJECT_FORBIDDEN = 1403;
const REJECT_OVERLOAD = 1402;
const SRT_MAGIC = 0x4a17;
const EXT_HSRSP = 2;
const EXT_SID = 5;
/** How long the local ffmpeg has to start listening and accept the relayed caller. */
const BACKEND_CONNECT_MS = 10_000;
const BACKEND_PROBE_MS = 100;

type Session =
  | { state: 'admitting'; conclusion: Buffer }
  | { state: 'connecting'; conclusion: Buffer; relay: Socket; backendPort: number; publisher: FfmpegPublisher; callerSocketId: number }
  | { state: 'connected'; relay: Socket; backendPort: number; publisher: FfmpegPublisher; callerSocketId: number };

function isControl(packet: Buffer, type: number): boolean {
  return packet.length >= HEADER_BYTES && (packet[0]! & CONTROL_BIT) !== 0 && (packet.readUInt16BE(0) & 0x7fff) === type;
}

function handshakeType(packet: Buffer): number | undefined {
  return isControl(packet, CONTROL_HANDSHAKE) && packet.length >= HS.extensions ? packet.readUInt32BE(HS.type) : undefined;
}

/** The handshake's extension blocks (type → content). */
function extensions(packet: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let p: number = HS.extensions;
  while (p + 4 <= packet.length) {
    const type = packet.readUInt16BE(p);
    const end = p + 4 + packet.readUInt16BE(p + 2) * 4;
    if (end > packet.length) break;
    out.set(type, packet.subarray(p + 4, end));
    p = end;
  }
  return out;
}

/** The stream id of a conclusion: SRT stores it as 32-bit words in little-endian byte order. */
export function streamIdOf(packet: Buffer): string | undefined {
  const sid = extensions(packet).get(EXT_SID);
  if (!sid) return undefined;
  const bytes = Buffer.from(sid);
  for (let i = 0; i + 4 <= bytes.length; i += 4) bytes.writeUInt32BE(sid.readUInt32LE(i), i);
  return bytes.toString('utf8').replace(/\0+$/, '');
}

/** The receive latency the listener agreed to (its HSRSP's receiver TSBPD delay), in ms. */
function agreedLatencyMs(packet: Buffer): number | undefined {
  const rsp = extensions(packet).get(EXT_HSRSP);
  return rsp && rsp.length >= 12 ? rsp.readUInt16BE(8) : undefined;
}

/** A handshake answer to the caller: its own CIF with our socket id, type and cookie. */
function answer(request: Buffer, type: number, ourSocketId: number, cookie: number, induction: boolean): Buffer {
  const out = Buffer.from(request.subarray(0, HS.extensions));
  out.writeUInt32BE(0x80000000, 0);
  out.writeUInt32BE(0, 4);
  out.writeUInt32BE(0, 8);
  out.writeUInt32BE(request.readUInt32BE(HS.socketId), 12);
  if (induction) {
    // HSv5: version 5 and the SRT magic tell the caller to send its extensions next.
    out.writeUInt32BE(5, HS.version);
    out.writeUInt16BE(0, HS.extensionField - 2);
    out.writeUInt16BE(SRT_MAGIC, HS.extensionField);
  }
  out.writeUInt32BE(type, HS.type);
  out.writeUInt32BE(ourSocketId, HS.socketId);
  out.writeUInt32BE(cookie >>> 0, HS.cookie);
  return out;
}

function shutdownFor(socketId: number): Buffer {
  const out = Buffer.alloc(HEADER_BYTES + 4);
  out.writeUInt32BE((0x80000000 | (CONTROL_SHUTDOWN << 16)) >>> 0, 0);
  out.writeUInt32BE(socketId >>> 0, 12);
  return out;
}

async function freeUdpPort(host: string): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, host, () => resolve());
  });
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export class SrtIngest implements LiveIngest {
  readonly protocol = 'srt';
  private socket: Socket | undefined;
  private readonly sessions = new Map<string, Session>();
  private readonly throttle: KeyGuessThrottle;
  private readonly secret = randomBytes(32);
  private readonly socketId = randomInt(1, 0x7fffffff);

  constructor(private readonly opts: SrtIngestOptions) {
    this.throttle = new KeyGuessThrottle(opts.badKeyLimit, opts.refusalDelayMs);
  }

  async start(): Promise<void> {
    const socket = createSocket('udp4');
    socket.on('message', (msg, rinfo) => this.fromCaller(msg, rinfo));
    socket.on('error', (err) => this.opts.logger.warn({ err }, 'srt: socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.opts.port, this.opts.host, () => resolve());
    });
    this.socket = socket;
    this.opts.logger.info({ port: this.opts.port }, 'srt ingest listening');
  }

  async close(): Promise<void> {
    for (const session of this.sessions.values()) if (session.state !== 'admitting') session.publisher.disconnect();
    await Promise.all(
      [...this.sessions.values()].map((session) => (session.state === 'admitting' ? undefined : session.publisher.exited)),
    );
    this.sessions.clear();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  /** A stateless cookie: the caller must have received our induction answer (no spoofed sources). */
  private cookie(peer: string, minute = Math.floor(Date.now() / 60_000)): number {
    return createHmac('sha256', this.secret).update(`${peer}/${minute}`).digest().readUInt32BE(0);
  }

  private cookieValid(peer: string, cookie: number): boolean {
    const minute = Math.floor(Date.now() / 60_000);
    return cookie === this.cookie(peer, minute) || cookie === this.cookie(peer, minute - 1);
  }

  private toCaller(packet: Buffer, rinfo: Pick<RemoteInfo, 'address' | 'port'>): void {
    this.socket?.send(packet, rinfo.port, rinfo.address);
  }

  private fromCaller(msg: Buffer, rinfo: RemoteInfo): void {
    const peer = `${rinfo.address}:${rinfo.port}`;
    const session = this.sessions.get(peer);
    if (session?.state === 'connected') {
      session.relay.send(msg, session.backendPort, '127.0.0.1');
      return;
    }
    const type = handshakeType(msg);
    if (type === HS_INDUCTION && !session) {
      this.toCaller(answer(msg, HS_INDUCTION, this.socketId, this.cookie(peer), true), rinfo);
    } else if (type === HS_CONCLUSION) {
      // Retransmitted while we decide or connect: the latest one is what the backend gets.
      if (session) session.conclusion = msg;
      else if (this.cookieValid(peer, msg.readUInt32BE(HS.cookie))) this.conclude(peer, msg, rinfo);
    }
  }

  private conclude(peer: string, conclusion: Buffer, rinfo: RemoteInfo): void {
    const key = streamIdOf(conclusion) ?? '';
    const address = rinfo.address;
    const session: Session = { state: 'admitting', conclusion };
    this.sessions.set(peer, session);
    const refuse = (code: number) => {
      this.toCaller(answer(session.conclusion, code, this.socketId, 0, false), rinfo);
      this.sessions.delete(peer);
    };
    const busy = [...this.sessions.values()].filter((s) => s.state !== 'admitting').length >= this.opts.maxPublishers;
    if (busy) {
      this.opts.logger.warn({ address, max: this.opts.maxPublishers }, 'srt: publish refused (too many publishers)');
      refuse(REJECT_OVERLOAD);
      return;
    }
    void this.throttle
      .admit(address, () => (key ? this.opts.handler.admit({ key, address, protocol: 'srt' }) : Promise.resolve(false)))
      .then(async ({ ok, blocked }) => {
        if (!ok) {
          this.opts.logger.warn({ address, blocked }, 'srt: publish refused (unknown, revoked or busy stream key)');
          refuse(REJECT_FORBIDDEN);
          return;
        }
        await this.connectBackend(peer, key, session.conclusion, rinfo);
      })
      .catch((err: unknown) => {
        this.opts.logger.error({ err, address }, 'srt: admission failed');
        if (this.sessions.get(peer) === session) refuse(REJECT_OVERLOAD);
      });
  }

  /** Starts the publisher's ffmpeg and relays the caller's handshake to it. */
  private async connectBackend(peer: string, key: string, conclusion: Buffer, rinfo: RemoteInfo): Promise<void> {
    const backendPort = await freeUdpPort('127.0.0.1');
    const relay = createSocket('udp4');
    await new Promise<void>((resolve) => relay.bind(0, '127.0.0.1', () => resolve()));
    const query = new URLSearchParams({
      mode: 'listener',
      // ffmpeg takes microseconds.
      latency: String(this.opts.latencyMs * 1000),
      listen_timeout: String(BACKEND_CONNECT_MS * 1000),
      ...(this.opts.passphrase ? { passphrase: this.opts.passphrase, enforced_encryption: '1' } : {}),
    });
    const publisher = ffmpegFlvPublisher({
      protocol: 'srt',
      key,
      address: rinfo.address,
      ffmpegPath: this.opts.ffmpegPath,
      // Probing a live TS waits for stream info: 3 s covers two keyframes at OBS's 2 s interval.
      // A packet SRT dropped (too late) must not end the publish: corrupt packets are dropped.
      inputArgs: ['-analyzeduration', '3000000', '-fflags', '+discardcorrupt', '-protocol_whitelist', 'srt', '-f', 'mpegts', '-i', `srt://127.0.0.1:${backendPort}?${query}`],
      // Audio is re-encoded (cheap): a damaged ADTS frame would stop a copy, and any TS audio codec becomes AAC.
      codecArgs: ['-map', '0:v:0', '-map', '0:a:0?', '-c:v', 'copy', '-c:a', 'aac', '-b:a', '160k'],
      logger: this.opts.logger,
    });
    const callerSocketId = conclusion.readUInt32BE(HS.socketId);
    const session: Session = { state: 'connecting', conclusion, relay, backendPort, publisher, callerSocketId };
    this.sessions.set(peer, session);
    const log = this.opts.logger.child({ address: rinfo.address });

    const probe = setInterval(() => {
      // The caller's own induction request, rebuilt: version 4, type induction, no cookie.
      const induction = Buffer.from(session.conclusion.subarray(0, HS.extensions));
      induction.writeUInt32BE(0, 12);
      induction.writeUInt32BE(4, HS.version);
      induction.writeUInt32BE(2, HS.extensionField - 2);
      induction.writeUInt32BE(HS_INDUCTION, HS.type);
      induction.writeUInt32BE(0, HS.cookie);
      relay.send(induction, backendPort, '127.0.0.1');
    }, BACKEND_PROBE_MS);
    const giveUp = setTimeout(() => publisher.disconnect(), BACKEND_CONNECT_MS);
    let onAir = false;

    relay.on('message', (msg) => {
      const current = this.sessions.get(peer);
      const type = handshakeType(msg);
      if (current?.state === 'connecting' && type === HS_INDUCTION) {
        clearInterval(probe);
        const patched = Buffer.from(current.conclusion);
        patched.writeUInt32BE(msg.readUInt32BE(HS.cookie), HS.cookie);
        this.sessions.set(peer, { state: 'connected', relay, backendPort, publisher, callerSocketId });
        relay.send(patched, backendPort, '127.0.0.1');
        return;
      }
      if (current?.state !== 'connected') return;
      if (type === HS_CONCLUSION && !onAir) {
        onAir = true;
        clearTimeout(giveUp);
        log.info({ latency_ms: agreedLatencyMs(msg) }, 'srt: publisher connected');
        this.opts.handler.published(publisher);
        this.toCaller(msg, rinfo);
      } else if (type !== undefined && type >= 1000 && !onAir) {
        // libsrt's verdict (e.g. 1010/1011: wrong or missing passphrase): the caller gets it, the ffmpeg goes.
        log.warn({ reason: type }, 'srt: publish refused by the SRT listener (passphrase)');
        this.toCaller(msg, rinfo);
        publisher.disconnect();
      } else this.toCaller(msg, rinfo);
    });

    void publisher.exited.then(() => {
      clearInterval(probe);
      clearTimeout(giveUp);
      if (this.sessions.get(peer)?.state !== 'admitting') this.sessions.delete(peer);
      this.toCaller(shutdownFor(callerSocketId), rinfo);
      relay.close();
    });
  }
}
