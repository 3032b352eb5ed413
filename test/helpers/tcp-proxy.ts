/**
 * A TCP proxy to put between a node and a backend (PostgreSQL) so a test can take the
 * backend away and bring it back without touching the real server, which other tests use:
 * `cut()` resets every connection through it and stops listening (new connections are
 * refused, as from a host that went down); `restore()` listens again on the same port.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** `url` (e.g. postgres://…@127.0.0.1:5432/db) with its host and port pointed at the proxy. */
  through(url: string): string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  let server: Server | undefined;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const srv = createServer((client) => {
        const upstream = connect(target.port, target.host);
        track(client);
        track(upstream);
        // Either side failing or closing ends the other: a cut looks the same from both ends.
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
        client.pipe(upstream).on('close', () => client.destroy());
        upstream.pipe(client).on('close', () => upstream.destroy());
      });
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        server = srv;
        const addr = srv.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  const port = await listen(0);
  const cut = async () => {
    const srv = server;
    server = undefined;
    const closed = srv ? new Promise<void>((resolve) => srv.close(() => resolve())) : Promise.resolve();
    // resetAndDestroy: an RST, as when the host vanishes; the server then sees no clean goodbye either.
    for (const s of sockets) s.resetAndDestroy();
    await closed;
  };
  return {
    port,
    through(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut,
    async restore() {
      if (!server) await listen(port);
    },
    close: cut,
  };
}
