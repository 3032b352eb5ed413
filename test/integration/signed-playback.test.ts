/**
 * Signed playback through a real node: a private video plays from its signed master URL
 * alone (the token is carried onto every child URI), and nothing plays without a valid
 * token: missing, tampered, expired, another video's, or (with signing.bind_ip) another
 * viewer's.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { PlaybackSigner } from '../../core/origin/signing.js';
import { api, tusUpload, waitForVideo, type Api } from '../helpers/api.js';
import { FFPROBE, makeClip } from '../helpers/media-fixtures.js';
import { startServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const SECRET = 'signed-playback-test-secret';

const dir = await mkdtemp(join(tmpdir(), 'framecast-signed-'));
const servers: TestServer[] = [];
t.teardown(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await rm(dir, { recursive: true, force: true });
});
const clip = await makeClip(dir, { width: 640, height: 360, seconds: 4, name: 'clip.mp4' });

async function start(signing: Record<string, unknown>): Promise<{ server: TestServer; admin: Api }> {
  const server = await startServer({ config: { signing: { secret: SECRET, ...signing } } });
  servers.push(server);
  return { server, admin: api(server.url, server.adminToken) };
}

async function uploadVideo(server: TestServer, admin: Api, visibility: 'public' | 'private'): Promise<any> {
  const created = await admin.json('POST', '/v1/videos', { title: `a ${visibility} video`, visibility });
  await tusUpload(server.url, clip, { token: server.adminToken, metadata: { video_id: created.body.id, filename: 'clip.mp4' } });
  const video = await waitForVideo(admin, created.body.id);
  if (video.status !== 'ready') throw new Error(`video failed: ${JSON.stringify(video.error)}`);
  return video;
}

function tokenOf(url: string): string {
  return new URL(url, 'http://x').searchParams.get('token') ?? '';
}

function withToken(url: string, token: string | null): string {
  const u = new URL(url, 'http://x');
  if (token === null) u.searchParams.delete('token');
  else u.searchParams.set('token', token);
  return u.pathname + u.search;
}

/** Child URIs of a playlist, MPD or storyboard, as written in the served text. */
function childUris(file: string, text: string): string[] {
  if (file.endsWith('.m3u8')) {
    return text.split('\n').flatMap((line) => {
      const l = line.trim();
      if (l.startsWith('#')) return [...l.matchAll(/URI="([^"]*)"/g)].map((m) => m[1]!);
      return l ? [l] : [];
    });
  }
  if (file.endsWith('.mpd')) {
    // A SegmentTemplate names segments by number: follow the first one ($Number%05d$ → startNumber).
    const start = Number(/startNumber="(\d+)"/.exec(text)?.[1] ?? 1);
    return [...text.matchAll(/(?:sourceURL|media|initialization)="([^"]*)"/g)].map((m) =>
      m[1]!.replaceAll('&amp;', '&').replace(/\$Number(?:%0(\d+)d)?\$/g, (_, width: string | undefined) => String(start).padStart(Number(width ?? 0), '0')),
    );
  }
  return text.split('\n').filter((l) => /\.jpg/.test(l)).map((l) => l.trim());
}

/** Follows every child URI from `url`; returns each URL fetched with its status. */
async function crawl(baseUrl: string, url: string, out = new Map<string, number>()): Promise<Map<string, number>> {
  const r = await fetch(baseUrl + url);
  out.set(url, r.status);
  const path = new URL(url, 'http://x').pathname;
  if (r.status !== 200 || !/\.(m3u8|mpd|vtt)$/.test(path)) return out;
  const text = await r.text();
  for (const child of childUris(path, text)) {
    const resolved = new URL(child, `http://x${url}`);
    const next = resolved.pathname + resolved.search;
    if (!out.has(next)) await crawl(baseUrl, next, out);
  }
  return out;
}

const { server, admin } = await start({});
const privateVideo = await uploadVideo(server, admin, 'private');
const publicVideo = await uploadVideo(server, admin, 'public');
const { playback } = privateVideo;
const token = tokenOf(playback.hls_url);

t.test('a private video is invisible to anonymous callers and comes with signed URLs', async (t) => {
  t.equal((await api(server.url, null).json('GET', `/v1/videos/${privateVideo.id}`)).status, 404);
  t.match(token, /^\d+\.[A-Za-z0-9_-]{43}$/);
  for (const url of [playback.hls_url, playback.dash_url, playback.poster_url, playback.thumbnail_vtt_url, playback.manifest_url]) {
    t.equal(tokenOf(url), token, url);
  }
});

t.test('ffprobe plays the private video from the signed master URL alone', async (t) => {
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_type,width,height', '-of', 'json', server.url + playback.hls_url]);
  const streams = JSON.parse(stdout).streams as { codec_type: string; width?: number }[];
  t.ok(streams.some((s) => s.codec_type === 'video' && s.width === 640), 'the 360p video');
  t.ok(streams.some((s) => s.codec_type === 'audio'), 'the audio');
  const dash = await run(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'json', server.url + playback.dash_url]);
  t.ok((JSON.parse(dash.stdout).streams as unknown[]).length >= 2, 'the DASH manifest plays too');
});

t.test('every child URI of the served playlists, MPD and storyboard carries the token and plays', async (t) => {
  for (const root of [playback.hls_url, playback.dash_url, playback.thumbnail_vtt_url]) {
    const fetched = await crawl(server.url, root);
    t.ok(fetched.size >= 2, `${root}: followed ${fetched.size} URLs`);
    for (const [url, status] of fetched) {
      t.equal(tokenOf(url), token, `${url} carries the token`);
      t.equal(status, 200, url);
    }
  }
  const master = await (await fetch(server.url + playback.hls_url)).text();
  t.match(master, `240p/index.m3u8?token=${token}`);
  const media = await (await fetch(server.url + withToken(playback.hls_url.replace('master.m3u8', '240p/index.m3u8'), token))).text();
  t.match(media, `URI="init_240p.mp4?token=${token}"`);
  t.match(media, `seg-00000.m4s?token=${token}`);
  const vtt = await (await fetch(server.url + playback.thumbnail_vtt_url)).text();
  t.match(vtt, new RegExp(`sprite-0\\.jpg\\?token=${token.replace('.', '\\.')}#xywh=`));
});

t.test('missing, tampered, expired and foreign tokens get 403 on every kind of file', async (t) => {
  const signer = new PlaybackSigner(SECRET);
  const [exp, mac] = token.split('.') as [string, string];
  const tampered = `${exp}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`;
  const expired = signer.token(privateVideo.id, {}, Math.floor(Date.now() / 1000) - 60);
  const foreign = signer.token(publicVideo.id);
  const extended = `${Number(exp) + 3600}.${mac}`;
  const files = ['master.m3u8', '240p/index.m3u8', '240p/init_240p.mp4', '240p/seg-00000.m4s', 'storyboard.vtt', 'sprite-0.jpg', 'master.mpd', 'poster.jpg'];
  for (const [name, bad, message] of [
    ['missing', null, /required/],
    ['tampered', tampered, /not valid/],
    ['expiry changed', extended, /not valid/],
    ['expired', expired, /expired/],
    ["another video's", foreign, /not valid/],
    ['garbage', 'x', /malformed/],
  ] as const) {
    for (const file of files) {
      const url = withToken(playback.hls_url.replace('master.m3u8', file), bad);
      const r = await fetch(server.url + url);
      t.equal(r.status, 403, `${name} token: ${file}`);
      const body = (await r.json()) as { error: { code: string; message: string } };
      t.equal(body.error.code, 'E_FORBIDDEN');
      t.match(body.error.message, message);
    }
  }
  t.equal((await fetch(server.url + withToken(playback.hls_url, token))).status, 200, 'the valid one still plays');
});

t.test('public videos need no token and their playlists carry none', async (t) => {
  t.notMatch(publicVideo.playback.hls_url, /token=/);
  const fetched = await crawl(server.url, publicVideo.playback.hls_url);
  t.ok(fetched.size > 3);
  for (const [url, status] of fetched) {
    t.equal(status, 200, url);
    t.notMatch(url, /token=/);
  }
});

t.test('making a video private takes effect within seconds', async (t) => {
  const other = await uploadVideo(server, admin, 'public');
  t.equal((await fetch(server.url + other.playback.hls_url)).status, 200);
  await admin.json('PATCH', `/v1/videos/${other.id}`, { visibility: 'private' });
  // The origin caches video state for origin.lookup_ttl_ms (1 s by default).
  await new Promise((r) => setTimeout(r, 1500));
  t.equal((await fetch(server.url + other.playback.hls_url)).status, 403);
  await admin.json('DELETE', `/v1/videos/${other.id}`);
  await new Promise((r) => setTimeout(r, 1500));
  const signed = new PlaybackSigner(SECRET).signUrl(other.id, other.playback.hls_url);
  t.equal((await fetch(server.url + signed)).status, 404, 'a deleted video is gone, token or not');
});

t.test('with signing.bind_ip a token plays only from the IP it was issued to', async (t) => {
  const bound = await start({ bind_ip: true });
  const video = await uploadVideo(bound.server, bound.admin, 'private');
  const issued = tokenOf(video.playback.hls_url);
  t.match(issued, /^\d+\.ip\./, 'the API issued a bound token');
  t.equal((await fetch(bound.server.url + video.playback.hls_url)).status, 200, 'plays from the caller that got it (127.0.0.1)');
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'json', bound.server.url + video.playback.hls_url]);
  t.ok((JSON.parse(stdout).streams as unknown[]).length >= 2, 'and through every child URI');
  const signer = new PlaybackSigner(SECRET, { bindIp: true });
  const elsewhere = signer.token(video.id, { ip: '127.0.0.2' });
  const r = await fetch(bound.server.url + withToken(video.playback.hls_url, elsewhere));
  t.equal(r.status, 403, 'a token for 127.0.0.2 is refused from 127.0.0.1');
  const unbound = new PlaybackSigner(SECRET).token(video.id);
  t.equal((await fetch(bound.server.url + withToken(video.playback.hls_url, unbound))).status, 403, 'an unbound token is refused');
});
