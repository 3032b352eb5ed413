/**
 * RTP → ffmpeg for a WebRTC ingest: the decrypted RTP of a WHIP peer is forwarded over UDP on
 * 127.0.0.1 to an ffmpeg that reads it through an SDP we write, and remuxes it into the FLV
 * (H.264 + AAC) every ingest hands the broadcast (live/ffmpeg-flv-publisher.ts). So WHIP goes
 * through the same ladder, window, reconnect window and recording as RTMP.
 *
 *   werift (RTP, RTCP SR) ──udp 127.0.0.1──▶ ffmpeg -f sdp ─┬─ H.264: copied ───────┬─▶ FLV
 *                                                          ├─ VP8: → libx264 ──────┤
 *                                                          └─ Opus → AAC ──────────┘
 *
 * Design notes:
 * - The SDP is built from the negotiated codecs, never from the publisher's own text, and
 *   given as a `data:` URL: ffmpeg may open only the `data`, `udp` and `rtp` protocols and
 *   the `sdp` demuxer. Its RTP demuxer reorders late packets (a NACK's retransmission) for
 *   up to 0.5 s and lines audio up with video by the sender reports, forwarded to each
 *   stream's RTCP port (RTP port + 1).
 * - H.264 is copied: the packager encodes every rung anyway (a WebRTC encoder's bitrate and
 *   GOP are too irregular to pass through, so the FLV declares no bitrate and the ladder
 *   copies nothing). VP8 does not fit FLV or the packager: it is encoded to H.264 here once,
 *   at the ingest's size.
 * - Loopback UDP does not drop packets unless the reader stalls; ffmpeg's socket buffer is
 *   raised (`buffer_size`) for the bursts of a keyframe.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from '../core/logger.js';
import type { WhipTrack } from './whip-peer.js';

/** Reserves an even UDP port P with P+1 free (RTP and RTCP, as ffmpeg's SDP demuxer binds them). */
async function freeUdpPortPair(): Promise<number> {
  const bind = (port: number) =>
    new Promise<Socket | undefined>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(undefined));
      s.bind(port, '127.0.0.1', () => resolve(s));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const a = await bind(0);
    if (!a) continue;
    const port = a.address().port;
    const b = port % 2 === 0 && port < 65535 ? await bind(port + 1) : undefined;
    a.close();
    b?.close();
    if (b) return port;
  }
  throw new Error('no free UDP port pair on 127.0.0.1');
}

const SDP_NAME: Record<WhipTrack['codec'], string> = { h264: 'H264', vp8: 'VP8', opus: 'opus' };

/** The SDP ffmpeg reads: one m= line per track on its loopback port; of the fmtp only packetization-mode is passed on. */
export function forwardSdp(tracks: readonly { track: WhipTrack; port: number }[]): string {
  const lines = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=framecast-whip', 'c=IN IP4 127.0.0.1', 't=0 0'];
  for (const { track, port } of tracks) {
    const channels = track.codec === 'opus' ? '/2' : '';
    lines.push(`m=${track.kind} ${port} RTP/AVP ${track.payloadType}`, `a=rtpmap:${track.payloadType} ${SDP_NAME[track.codec]}/${track.clockRate}${channels}`);
    const mode = /packetization-mode=([01])/.exec(track.fmtp)?.[1] ?? '1';
    if (track.codec === 'h264') lines.push(`a=fmtp:${track.payloadType} packetization-mode=${mode}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}

export interface RtpForwardOptions {
  tracks: readonly WhipTrack[];
  audioKbps: number;
  /** x264 preset of the VP8 → H.264 encode. */
  preset: string;
  logger: Logger;
}

export class RtpForwarder {
  private closed = false;

  private constructor(
    private readonly opts: RtpForwardOptions,
    private readonly ports: ReadonlyMap<'video' | 'audio', number>,
    private readonly socket: Socket,
  ) {}

  static async open(opts: RtpForwardOptions): Promise<RtpForwarder> {
    const ports = new Map<'video' | 'audio', number>();
    for (const t of opts.tracks) ports.set(t.kind, await freeUdpPortPair());
    const socket = createSocket('udp4');
    socket.on('error', (err) => opts.logger.debug({ err }, 'whip: forwarding RTP failed'));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new RtpForwarder(opts, ports, socket);
  }

  /** ffmpeg's input side: the SDP as a data: URL and what it may open. */
  inputArgs(): string[] {
    const sdp = forwardSdp(this.opts.tracks.map((track) => ({ track, port: this.ports.get(track.kind)! })));
    return [
      '-protocol_whitelist', 'data,udp,rtp', '-format_whitelist', 'sdp',
      '-reorder_queue_size', '1024', '-max_delay', '500000', '-buffer_size', '4194304',
      '-f', 'sdp', '-i', `data:application/sdp;base64,${Buffer.from(sdp).toString('base64')}`,
    ];
  }

  /** ffmpeg's codec side: H.264 copied or VP8 encoded, Opus → AAC. */
  codecArgs(): string[] {
    const video = this.opts.tracks.find((t) => t.kind === 'video');
    const audio = this.opts.tracks.some((t) => t.kind === 'audio');
    return [
      '-map', '0:v:0', ...(audio ? ['-map', '0:a:0'] : []),
      ...(video?.codec === 'h264'
        ? ['-c:v', 'copy']
        : ['-c:v', 'libx264', '-preset', this.opts.preset, '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-crf', '20', '-force_key_frames', 'source']),
      ...(audio ? ['-c:a', 'aac', '-b:a', `${this.opts.audioKbps}k`, '-ar', '48000', '-ac', '2'] : []),
    ];
  }

  /** Forwards one RTP packet of the track of `kind`. */
  rtp(kind: 'video' | 'audio', packet: Buffer): void {
    this.send(kind, packet, 0);
  }

  /** Forwards one RTCP sender report of the track of `kind` to its RTCP port. */
  rtcp(kind: 'video' | 'audio', packet: Buffer): void {
    this.send(kind, packet, 1);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }

  private send(kind: 'video' | 'audio', packet: Buffer, offset: 0 | 1): void {
    const port = this.ports.get(kind);
    if (port && !this.closed) this.socket.send(packet, port + offset, '127.0.0.1');
  }
}
