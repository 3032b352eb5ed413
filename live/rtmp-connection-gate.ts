/*
 * The gate in front of node-media-server's RTMP listener: what a connection may cost before
 * its stream key is accepted.
 *
 * - Connections are counted in all and per address; one over either cap is closed on
 *   arrival, before NMS sees a byte.
 * - A connection has `handshakeTimeoutMs` to finish the handshake and ask to publish (the key
 *   check then pauses it; see ingest-rtmp.ts), and any connection silent for
 *   `idleTimeoutMs` is closed.
 * - Until its publish is accepted, every byte passes an RtmpPrePublishGuard before NMS's
 *   parser: bytes that would make NMS hold more than the limits close the connection instead.
 * - NMS's parser throws on some malformed input (a zero-length control message, a bad
 *   tcUrl) from inside a socket 'data' handler, which would end the whole media process:
 *   such a throw closes that one connection.
 *
 * NMS creates its session inside the listener's 'connection' handler; the gate replaces
 * that handler with one that admits, calls NMS's, then wraps the new session's parser.
 */
import type { Server, Socket } from 'node:net';
import type { NmsSession } from 'node-media-server';
import type { Logger } from '../core/logger.js';
import { RtmpPrePublishGuard, type PrePublishLimits } from './rtmp-prepublish-guard.js';

export interface ConnectionLimits extends PrePublishLimits {
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

/** What the gate keeps per connection until its publish is accepted. */
interface Pending {
  guard: RtmpPrePublishGuard;
  deadline: NodeJS.Timeout;
}

export class RtmpConnectionGate {
  private total = 0;
  private readonly perAddress = new Map<string, number>();
  private readonly pending = new Map<Socket, Pending>();

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly logger: Logger,
    /** The NMS session NMS created for a socket (found after its connection handler ran). */
    private readonly sessionOf: (socket: Socket) => NmsSession | undefined,
  ) {}

  /** Puts the gate in front of the listener's own connection handlers (call before it listens). */
  install(server: Server): void {
    const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      if (!this.admit(socket)) return;
      for (const handler of handlers) handler.call(server, socket);
      const session = this.sessionOf(socket);
      if (session?.rtmp) this.wrapParser(session, socket);
      else socket.destroy();
    });
  }

  /** The connection's publish was accepted: no deadline, no pre-publish limits from now on. */
  accepted(socket: Socket): void {
    const p = this.pending.get(socket);
    if (!p) return;
    clearTimeout(p.deadline);
    this.pending.delete(socket);
  }

  /** The connection plays a stream: no deadline; it stays under the pre-publish limits (a player sends little). */
  playing(socket: Socket): void {
    const p = this.pending.get(socket);
    if (p) clearTimeout(p.deadline);
  }

  /** Connections open now (for tests and logs). */
  get connections(): number {
    return this.total;
  }

  private admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (this.total >= this.limits.maxConnections || fromAddress >= this.limits.maxConnectionsPerAddress) {
      this.logger.warn(
        { address, connections: this.total, from_address: fromAddress },
        this.total >= this.limits.maxConnections ? 'rtmp: connection refused (live.max_connections reached)' : 'rtmp: connection refused (live.max_connections_per_address reached)',
      );
      socket.on('error', () => undefined);
      socket.destroy();
      return false;
    }
    this.total++;
    this.perAddress.set(address, fromAddress + 1);
    const deadline = setTimeout(() => {
      this.logger.warn({ address }, 'rtmp: connection closed (no publish within live.handshake_timeout_s)');
      socket.destroy();
    }, this.limits.handshakeTimeoutMs);
    this.pending.set(socket, { guard: new RtmpPrePublishGuard(this.limits), deadline });
    socket.setTimeout(this.limits.idleTimeoutMs, () => {
      this.logger.info({ address }, 'rtmp: idle connection closed (live.idle_timeout_s)');
      socket.destroy();
    });
    socket.once('close', () => {
      this.accepted(socket);
      this.total--;
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
    });
    return true;
  }

  private wrapParser(session: NmsSession, socket: Socket): void {
    const rtmp = session.rtmp;
    if (!rtmp) return;
    const parse = rtmp.parserData.bind(rtmp);
    rtmp.parserData = (data: Buffer) => {
      if (socket.destroyed) return null;
      const guard = this.pending.get(socket)?.guard;
      const violation = guard?.feed(data);
      if (violation) {
        this.logger.warn({ address: socket.remoteAddress, violation, buffered_bytes: guard?.bufferedBytes }, 'rtmp: connection closed before publish (over a pre-publish limit)');
        socket.destroy();
        return null;
      }
      try {
        return parse(data);
      } catch (err) {
        this.logger.warn({ err, address: socket.remoteAddress }, 'rtmp: connection closed (malformed RTMP)');
        socket.destroy();
        return null;
      }
    };
  }
}
