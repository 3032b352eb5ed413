/**
 * The WebRTC side of one WHIP publisher (RFC 9725): a receive-only werift peer connection
 * that answers the publisher's SDP offer and hands on the decrypted RTP of at most one
 * video and one audio track.
 *
 * Design notes:
 * - Codecs offered back are H.264 (packetization-mode 1), VP8 and Opus only, without RTX:
 *   retransmissions after a NACK then come on the original SSRC and payload type, so the RTP
 *   can be forwarded as is. FEC/RED are not negotiated either.
 * - The answer is sent once ICE gathering is complete (WHIP has no trickle here): it carries
 *   every host candidate, plus copies of them with `publicAddresses` for a host behind a
 *   1:1 NAT (the port is kept, so the UDP range should be forwarded as is).
 * - A browser sends a keyframe only at start and when asked: `requestKeyframe()` sends a
 *   PLI. The owner asks until the first keyframe arrives (the ladder cannot start without
 *   one) and then at a steady interval, so a lost packet spoils at most that long.
 */
import { RTCPeerConnection, RTCRtpCodecParameters, type MediaStreamTrack, type RTCRtpTransceiver } from 'werift';

export type WhipCodec = 'h264' | 'vp8' | 'opus';

/** A track the publisher sends, as negotiated. */
export interface WhipTrack {
  kind: 'video' | 'audio';
  codec: WhipCodec;
  payloadType: number;
  clockRate: number;
  channels: number;
  /** Negotiated fmtp parameters (e.g. `packetization-mode=1`), as in the SDP. */
  fmtp: string;
}

export interface WhipPeerOptions {
  /** Addresses to gather host candidates on besides the interfaces' (e.g. 127.0.0.1). */
  hostAddresses: readonly string[];
  /** Addresses announced as extra host candidates (the public IP of a 1:1 NAT). */
  publicAddresses: readonly string[];
  /** UDP ports of ICE, `[min, max]`; undefined = any. */
  udpPorts: [number, number] | undefined;
  /** Gives up on ICE/DTLS after this long without a connection. */
  connectTimeoutMs: number;
}

const MIME_OF: Record<string, WhipCodec> = { 'video/h264': 'h264', 'video/vp8': 'vp8', 'audio/opus': 'opus' };
const FEEDBACK = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }];

function offeredCodecs() {
  return {
    video: [
      new RTCRtpCodecParameters({
        mimeType: 'video/H264',
        clockRate: 90000,
        rtcpFeedback: FEEDBACK,
        parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
      }),
      new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: FEEDBACK }),
    ],
    audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
  };
}

/** Adds `a=candidate` lines with each public address for every host candidate of the answer. */
export function withPublicCandidates(sdp: string, publicAddresses: readonly string[]): string {
  if (publicAddresses.length === 0) return sdp;
  const out: string[] = [];
  for (const line of sdp.split('\r\n')) {
    out.push(line);
    const m = /^a=candidate:(\S+) (\d+) (udp|UDP) (\d+) (\S+) (\d+) typ host(.*)$/.exec(line);
    if (!m) continue;
    publicAddresses.forEach((ip, i) => out.push(`a=candidate:${m[1]}p${i} ${m[2]} ${m[3]} ${Number(m[4]) - 1 - i} ${ip} ${m[6]} typ host${m[7]}`));
  }
  return out.join('\r\n');
}

export class WhipPeer {
  private readonly pc: RTCPeerConnection;
  private readonly receivers = new Map<MediaStreamTrack, RTCRtpTransceiver>();
  /** Tracks werift announced (it may do so while applying the offer, before `receive`). */
  private readonly tracks: MediaStreamTrack[] = [];
  private readonly sinks: { kind: 'video' | 'audio'; attach(track: MediaStreamTrack): void }[] = [];
  private readonly closeCallbacks: (() => void)[] = [];
  private closed = false;
  private connectTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: WhipPeerOptions) {
    this.pc = new RTCPeerConnection({
      codecs: offeredCodecs(),
      iceAdditionalHostAddresses: [...opts.hostAddresses],
      icePortRange: opts.udpPorts,
      iceUseIpv6: false,
      bundlePolicy: 'max-bundle',
    });
    this.pc.onTrack.subscribe((track) => {
      this.tracks.push(track);
      const transceiver = this.pc.getTransceivers().find((t) => t.receiver.tracks.includes(track));
      if (transceiver) this.receivers.set(track, transceiver);
      for (const sink of this.sinks) if (sink.kind === track.kind) sink.attach(track);
    });
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') clearTimeout(this.connectTimer);
      if (state === 'failed' || state === 'closed' || state === 'disconnected') this.close();
    });
  }

  /** Answers the publisher's offer; rejects when it has no track we can take. */
  async answer(offer: string): Promise<{ sdp: string; tracks: WhipTrack[] }> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
    const tracks: WhipTrack[] = [];
    for (const t of this.pc.getTransceivers()) {
      const kind = t.kind === 'video' || t.kind === 'audio' ? t.kind : undefined;
      const codec = t.codecs[0];
      const name = codec ? MIME_OF[codec.mimeType.toLowerCase()] : undefined;
      if (!kind || !codec || !name || tracks.some((x) => x.kind === kind)) {
        t.setDirection('inactive');
        continue;
      }
      t.setDirection('recvonly');
      tracks.push({ kind, codec: name, payloadType: codec.payloadType, clockRate: codec.clockRate, channels: codec.channels ?? 1, fmtp: codec.parameters ?? '' });
    }
    if (!tracks.some((t) => t.kind === 'video')) throw new Error('the offer has no H.264 or VP8 video');
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    if (this.pc.iceGatheringState !== 'complete') {
      await new Promise<void>((resolve) => {
        const sub = this.pc.iceGatheringStateChange.subscribe((state) => {
          if (state !== 'complete') return;
          sub.unSubscribe();
          resolve();
        });
      });
    }
    this.connectTimer = setTimeout(() => this.close(), this.opts.connectTimeoutMs);
    return { sdp: withPublicCandidates(this.pc.localDescription!.sdp, this.opts.publicAddresses), tracks };
  }

  /** Calls `onRtp` with every RTP packet (raw bytes) of the track of `kind`, and `onRtcp` with its sender reports. */
  receive(kind: 'video' | 'audio', onRtp: (packet: Buffer) => void, onRtcp: (packet: Buffer) => void): void {
    const attach = (track: MediaStreamTrack) => {
      track.onReceiveRtp.subscribe((rtp) => onRtp(rtp.serialize()));
      // Sender reports map RTP time to wall-clock time: what lines audio up with video.
      track.onReceiveRtcp.subscribe((rtcp) => {
        if (rtcp.type === 200) onRtcp(rtcp.serialize());
      });
    };
    this.sinks.push({ kind, attach });
    for (const track of this.tracks) if (track.kind === kind) attach(track);
  }

  /** Asks the publisher for a keyframe (RTCP PLI). */
  requestKeyframe(): void {
    for (const [track, transceiver] of this.receivers) {
      if (track.kind === 'video' && track.ssrc !== undefined) void transceiver.receiver.sendRtcpPLI(track.ssrc).catch(() => undefined);
    }
  }

  /** Registers a callback for the connection ending (also called if it already has). */
  onClose(callback: () => void): void {
    if (this.closed) callback();
    else this.closeCallbacks.push(callback);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.connectTimer);
    void this.pc.close().catch(() => undefined);
    for (const cb of this.closeCallbacks.splice(0)) cb();
  }
}
