/**
 * The Node reference for the origin benchmark: a bare node:http server (as many processes as
 * Framecast runs, sharing the port through node:cluster) answering GET /media/<path> with the
 * file's bytes from memory, read once: a Map lookup, writeHead, end. No access checks, no
 * validators, no metrics: the floor any Node server pays per request.
 *
 *   node --import tsx bench/bare-origin-server.ts ROOT PROCESSES  → prints {"port":N}
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, normalize } from 'node:path';
import { serveInCluster } from './bare-process.js';

const [root, processes = '2'] = process.argv.slice(2);
if (!root) {
  process.stderr.write('usage: bare-origin-server.ts ROOT [PROCESSES]\n');
  process.exit(2);
}

const TYPES: Record<string, string> = { m3u8: 'application/vnd.apple.mpegurl', m4s: 'video/iso.segment', mp4: 'video/mp4' };

serveInCluster(Number(processes), (port) => {
  const files = new Map<string, { type: string; bytes: Buffer }>();
  createServer((req, res) => {
    const url = req.url ?? '/';
    let file = files.get(url);
    if (!file && url.startsWith('/media/') && !url.includes('..')) {
      try {
        const bytes = readFileSync(join(root, normalize(url.slice('/media/'.length))));
        file = { type: TYPES[url.slice(url.lastIndexOf('.') + 1)] ?? 'application/octet-stream', bytes };
        files.set(url, file);
      } catch {
        /* answered 404 below */
      }
    }
    if (!file) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.bytes.length });
    res.end(file.bytes);
  }).listen(port, '127.0.0.1');
});
