/**
 * An HTTP reverse proxy that records the path of every request: put it in front of a node to
 * see which segments a native player (VLC, GStreamer, ffmpeg) really fetched.
 */
import { request as httpRequest, createServer, type Server } from 'node:http';

export interface RequestLog {
  /** `target`'s path on the proxy, e.g. "http://127.0.0.1:PORT/media/…/master.m3u8". */
  url(path: string): string;
  /** Paths requested since the last `clear()`, in order. */
  paths(): string[];
  clear(): void;
  close(): Promise<void>;
}

export async function startRequestLog(targetUrl: string): Promise<RequestLog> {
  const target = new URL(targetUrl);
  let seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(new URL(req.url ?? '/', 'http://x').pathname);
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: (path) => `http://127.0.0.1:${port}${new URL(path, target).pathname}`,
    paths: () => [...seen],
    clear: () => {
      seen = [];
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
