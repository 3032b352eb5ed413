/**
 * The Node reference for the origin benchmark: a bare node:http server (as many processes as
 * Framecast runs, sharing the port through node:cluster) answering GET /media/<path> with the
 * file's bytes from memory, read once: a Map lookup, writeHead, end. No access checks, no
 * validators, no metrics: the floor any Node server pays per request.
 *
 * With HEADERS_FROM (a base URL: Framecast's), each file is answered with the very headers
 * Framecast sends for it (read once from there): the same response bytes, so the difference
 * to Framecast is its own work per request, not the headers it owes players (CORS, caching,
 * validators, nosniff).
 *
 *   node --import tsx bench/bare-origin-server.ts ROOT PROCESSES [HEADERS_FROM]  → prints {"port":N}
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, normalize } from 'node:path';
import { serveInCluster } from './bare-process.js';

const [root, processes = '2', headersFrom] = process.argv.slice(2);
if (!root) {
  process.stderr.write('usage: bare-origin-server.ts ROOT [PROCESSES] [HEADERS_FROM]\n');
  process.exit(2);
}

const TYPES: Record<string, string> = { m3u8: 'application/vnd.apple.mpegurl', m4s: 'video/iso.segment', mp4: 'video/mp4' };
/** Headers Node writes itself (or that describe the connection, not the answer). */
const CONNECTION_HEADERS = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

interface File {
  headers: (string | number)[];
  bytes: Buffer;
}

async function load(url: string): Promise<File | undefined> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(root!, normalize(url.slice('/media/'.length))));
  } catch {
    return undefined;
  }
  if (!headersFrom) return { headers: ['Content-Type', TYPES[url.slice(url.lastIndexOf('.') + 1)] ?? 'application/octet-stream', 'Content-Length', bytes.length], bytes };
  // Identity, as wrk asks: fetch would otherwise ask for (and be sent) a compressed answer.
  const res = await fetch(headersFrom + url, { headers: { 'accept-encoding': 'identity' } });
  await res.arrayBuffer();
  const headers: string[] = [];
  res.headers.forEach((value, name) => {
    if (!CONNECTION_HEADERS.has(name)) headers.push(name, value);
  });
  return { headers, bytes };
}

serveInCluster(Number(processes), (port) => {
  const files = new Map<string, File>();
  createServer((req, res) => {
    const url = req.url ?? '/';
    const file = files.get(url);
    if (file) {
      res.writeHead(200, file.headers);
      res.end(file.bytes);
      return;
    }
    const loaded = url.startsWith('/media/') && !url.includes('..') ? load(url) : Promise.resolve(undefined);
    void loaded.then((f) => {
      if (!f) {
        res.writeHead(404);
        res.end();
        return;
      }
      files.set(url, f);
      res.writeHead(200, f.headers);
      res.end(f.bytes);
    });
  }).listen(port, '127.0.0.1');
});
