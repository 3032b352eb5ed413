/**
 * An audio-only upload through a real node: a podcast-style m4a with cover art sent with tus
 * becomes a ready video with no picture size, audio renditions, a poster that is its cover,
 * a master (HLS) and MPD whose every URL is served, a manifest listing the audio, and a
 * watch page whose player (hls.js) really plays it. The file lasts 4 s: its audio runs a few
 * ms past the second segment, and that crumb must be joined to the segment before it in
 * what the node publishes (even when instant publish already copied both).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../core/media/playlists.js';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeAudioFile, pictureInfo } from '../helpers/audio-fixtures.js';
import { launchBrowser } from '../helpers/browser.js';
import { startServer } from '../helpers/server.js';

const server = await startServer();
const dir = await mkdtemp(join(tmpdir(), 'framecast-audio-only-'));
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const anonymous = api(server.url, null);

async function get(url: string): Promise<Response> {
  return fetch(new URL(url, server.url));
}

const source = await makeAudioFile(dir, 'episode.m4a', { seconds: 4, cover: 'red', frequency: 440 });
const upload = await tusUpload(server.url, source, {
  token: server.adminToken,
  metadata: { filename: 'episode.m4a', title: 'An episode' },
});
const video = await waitForVideo(anonymous, upload.videoId!);

t.test('the upload becomes a ready audio-only video', async (t) => {
  t.equal(video.status, 'ready', JSON.stringify(video.error));
  t.ok(!video.width && !video.height, `no picture size (${video.width}x${video.height})`);
  t.ok(Math.abs(video.duration_ms - 4000) < 150, `duration ${video.duration_ms} ms`);
  t.same(
    video.renditions.map((r: { name: string; codecs: string }) => [r.name, r.codecs]),
    [['audio-0', 'mp4a.40.2']],
    'renditions list the audio',
  );
});

t.test('every playback URL is served', async (t) => {
  const { playback } = video;
  const masterText = await (await get(playback.hls_url)).text();
  const master = parseMasterPlaylist(masterText);
  t.same(master.variants.map((v) => v.codecs), ['mp4a.40.2'], 'one audio variant');
  t.match(masterText, /#EXT-X-MEDIA:TYPE=AUDIO,[^\n]*DEFAULT=YES/, 'the audio rendition is the default');
  for (const uri of new Set([...master.variants.map((v) => v.uri), ...master.media.flatMap((m) => (m.uri ? [m.uri] : []))])) {
    const playlistUrl = new URL(uri, new URL(playback.hls_url, server.url));
    const res = await get(playlistUrl.href);
    t.equal(res.status, 200, `${uri} is served`);
    const media = parseMediaPlaylist(await res.text());
    t.ok(media.ended, `${uri} is a finished playlist`);
    t.same(media.segments.map((s) => s.uri), ['seg-00000.m4s', 'seg-00001.m4s'], 'the 0.03 s tail is no segment of its own');
    t.ok(media.segments.every((s) => s.duration >= 0.1), `segments of ${media.segments.map((s) => s.duration)} s`);
    for (const file of [media.initUri!, ...media.segments.map((s) => s.uri)]) {
      const seg = await get(new URL(file, playlistUrl).href);
      t.equal(seg.status, 200, `${file} is served`);
      const bytes = Buffer.from(await seg.arrayBuffer());
      if (file === 'seg-00001.m4s') t.equal(bytes.toString('latin1').split('moof').length - 1, 2, 'the last segment holds the tail as a second fragment');
    }
    t.equal((await get(new URL('seg-00002.m4s', playlistUrl).href)).status, 404, 'the joined tail is not published on its own');
  }
  const mpd = await get(playback.dash_url);
  t.equal(mpd.status, 200);
  t.match(await mpd.text(), /contentType="audio"[^>]*lang="und"/, 'the MPD has the audio AdaptationSet');

  const poster = await get(playback.poster_url);
  t.equal(poster.status, 200);
  const posterFile = join(dir, 'poster.jpg');
  await writeFile(posterFile, Buffer.from(await poster.arrayBuffer()));
  const picture = await pictureInfo(posterFile);
  t.ok(picture.rgb[0] > 200 && picture.rgb[1] < 60, `the poster is the cover art (${picture.rgb})`);

  const vtt = await get(playback.thumbnail_vtt_url);
  t.equal(vtt.status, 200, 'the (empty) storyboard VTT is served');
  const manifest = await (await get(playback.manifest_url)).json();
  t.match(manifest.audio, [{ name: 'audio-0', language: 'und', channels: 2, default: true }], 'the manifest lists the audio');
  t.type(manifest.loudness, 'number', 'loudness measured');
});

t.test('the watch page plays it', async (t) => {
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${server.url}/watch/${video.id}`);
  await page.waitForFunction(
    () => ((window as { framecast?: { video: HTMLVideoElement } }).framecast?.video.currentTime ?? 0) > 1,
    null,
    { timeout: 30_000 },
  );
  t.pass('playback passes 1 s');
  t.ok(await page.locator('#error').isHidden(), 'no error shown');
  t.same(pageErrors, [], 'no uncaught errors in the page');
});
