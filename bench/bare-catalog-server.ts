/**
 * The reference for the catalog benchmark: a bare node:http server (one process per core,
 * as Framecast runs) over the very same SQLite file, answering with the textbook query for
 * each endpoint and nothing else: no auth, no routing library, no URL signing.
 *
 *   node --import tsx bench/bare-catalog-server.ts DBFILE PROCESSES  → prints {"port":N}
 *
 * - GET /v1/videos/:id   `select * from videos where id = ?`, then its current version and
 *                        that version's renditions: the rows Framecast's answer is made of
 * - GET /v1/search?q=    FTS5's own ranking: `... match ? order by rank limit 21` (bm25),
 *                        every word as a prefix: what an FTS5 tutorial would write
 * - GET /v1/feed         newest ready public videos, `order by created_at desc limit 21`
 * - GET /healthz         `{"status":"ok"}`: the floor, a request that does nothing
 */
import { createServer } from 'node:http';
import BetterSqlite3 from 'better-sqlite3';
import { serveInCluster } from './bare-process.js';

const [file, processes = '2'] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: bare-catalog-server.ts DBFILE [PROCESSES]\n');
  process.exit(2);
}

serveInCluster(Number(processes), (port) => {
  const db = new BetterSqlite3(file, { readonly: true });
  const get = db.prepare<[string], { current_version: number }>('select * from videos where id = ?');
  const version = db.prepare('select * from versions where video_id = ? and version = ?');
  const renditions = db.prepare('select * from renditions where video_id = ? and version = ?');
  const video = (id: string) => {
    const row = get.get(id);
    return row && { ...row, current: version.get(id, row.current_version), renditions: renditions.all(id, row.current_version) };
  };
  const search = db.prepare(
    `select v.* from videos_fts f join videos v on v.rowid = f.rowid
     where videos_fts match ? and v.status = 'ready' and v.visibility = 'public' order by f.rank limit 21`,
  );
  const feed = db.prepare(`select * from videos where status = 'ready' and visibility = 'public' order by created_at desc, id desc limit 21`);
  createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let body: unknown;
    if (url.pathname === '/healthz') body = { status: 'ok' };
    else if (url.pathname.startsWith('/v1/videos/')) body = video(url.pathname.slice('/v1/videos/'.length));
    else if (url.pathname === '/v1/search') {
      const words = (url.searchParams.get('q') ?? '').split(/\s+/).filter(Boolean);
      body = { items: search.all(words.map((w) => `"${w.replace(/"/g, '""')}"*`).join(' AND ')) };
    } else if (url.pathname === '/v1/feed') body = { items: feed.all() };
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: 'not found' }));
  }).listen(port, '127.0.0.1');
});
