/**
 * The reference for the upload benchmark: a bare Node http server that streams request
 * bodies to files and nothing else. Run as its own process (as Framecast's HTTP process
 * is), so it does not share an event loop with the client:
 *
 *   node --import tsx bench/bare-upload-server.ts DIR   → prints {"port":N} on stdout
 *
 * Two ways in, both a plain `pipeline(req, createWriteStream(file))`:
 * - the minimum of the tus protocol tus-js-client needs (POST creates, PATCH appends,
 *   HEAD reports the offset), so the very same client code drives both servers;
 * - `PUT /raw/NAME`, for a plain streamed http.request.
 * No auth, no checksum, no metadata, no limits: the cost floor of receiving bytes in Node.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: bare-upload-server.ts DIR\n');
  process.exit(2);
}

const TUS_HEADERS = { 'Tus-Resumable': '1.0.0' };
const uploads = new Map<string, { length: number; offset: number }>();

async function receive(req: IncomingMessage, file: string, flags: 'a' | 'w'): Promise<number> {
  let bytes = 0;
  req.on('data', (chunk: Buffer) => (bytes += chunk.length));
  await pipeline(req, createWriteStream(file, { flags }));
  return bytes;
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  if (req.method === 'PUT' && url.startsWith('/raw/')) {
    await receive(req, join(dir!, `raw-${randomBytes(6).toString('hex')}`), 'w');
    res.writeHead(201).end();
    return;
  }
  if (req.method === 'POST' && url === '/tus') {
    const id = randomBytes(8).toString('hex');
    uploads.set(id, { length: Number(req.headers['upload-length']), offset: 0 });
    res.writeHead(201, { ...TUS_HEADERS, Location: `/tus/${id}` }).end();
    return;
  }
  const upload = url.startsWith('/tus/') ? uploads.get(url.slice(5)) : undefined;
  if (!upload) {
    res.writeHead(404, TUS_HEADERS).end();
    return;
  }
  if (req.method === 'HEAD') {
    res.writeHead(200, { ...TUS_HEADERS, 'Upload-Offset': upload.offset, 'Upload-Length': upload.length, 'Cache-Control': 'no-store' }).end();
    return;
  }
  if (req.method === 'PATCH' && Number(req.headers['upload-offset']) === upload.offset) {
    upload.offset += await receive(req, join(dir!, `tus-${url.slice(5)}`), 'a');
    res.writeHead(204, { ...TUS_HEADERS, 'Upload-Offset': upload.offset }).end();
    return;
  }
  res.writeHead(409, TUS_HEADERS).end();
}

const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    process.stderr.write(`bare upload server: ${String(err)}\n`);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
