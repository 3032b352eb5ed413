/**
 * `/embed/:id?captions=LANG` starts the embed player with that caption track on: in Chromium
 * (hls.js) the French track is the one showing and its cue is on screen; without the
 * parameter no track shows.
 */
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startPageFixture } from '../helpers/page-fixture.js';

const { server, dir, browser } = await startPageFixture(t, 'watch-embed-captions', {
  config: { transcode: { ladder: [{ name: '144p', height: 144, video_kbps: 150 }] } },
});
const admin = api(server.url, server.adminToken);
const source = await makeClip(dir, { width: 256, height: 144, seconds: 4, fps: 25 });
const upload = await tusUpload(server.url, source, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'Two languages' } });
const id = upload.videoId!;
if ((await waitForVideo(admin, id)).status !== 'ready') throw new Error('the video did not become ready');
for (const [language, text] of [
  ['en', 'Hello there'],
  ['fr', 'Bonjour à tous'],
]) {
  const r = await admin.json('POST', `/v1/videos/${id}/captions`, { language, text: `WEBVTT\n\n00:00:00.200 --> 00:00:03.500\n${text}\n` });
  if (r.status !== 201) throw new Error(`caption ${language}: ${r.status} ${JSON.stringify(r.body)}`);
}

/** Opens the embed with `query`, playing muted; the showing track's language and cue text once one shows (or none after the first cue's time). */
async function showing(query: string): Promise<{ language: string; cue: string } | null> {
  const page = await browser.newPage();
  try {
    await page.goto(`${server.url}/embed/${id}?autoplay=1&muted=1${query}`);
    // The captions menu is built once hls.js has read the master's SUBTITLES group.
    await page.waitForFunction(() => (document.querySelector('#captions') as HTMLSelectElement | null)?.options.length === 3, null, { timeout: 60_000 });
    // A showing track with its cue on screen, or none by the cue's end (3.5 s).
    const handle = await page.waitForFunction(
      () => {
        const video = document.querySelector('video')!;
        const on = Array.from(video.textTracks).find((track) => track.mode === 'showing');
        const cue = Array.from(on?.activeCues ?? []).map((c) => (c as VTTCue).text).join('|');
        if (on && cue) return { language: on.language, cue };
        return video.currentTime > 3.5 ? { none: true, modes: Array.from(video.textTracks).map((tr) => `${tr.language}:${tr.mode}`).join(' ') } : false;
      },
      null,
      { timeout: 30_000, polling: 50 },
    );
    const found = (await handle.jsonValue()) as { none?: true; modes?: string; language?: string; cue?: string };
    if (found.none) t.comment(`no track showing (${found.modes})`);
    return found.none ? null : { language: found.language!, cue: found.cue! };
  } finally {
    await page.close();
  }
}

t.test('?captions=fr shows the French track', async (t) => {
  t.same(await showing('&captions=fr'), { language: 'fr', cue: 'Bonjour à tous' });
});

t.test('?captions=en shows the English one', async (t) => {
  t.same(await showing('&captions=en'), { language: 'en', cue: 'Hello there' });
});

t.test('without ?captions no track shows', async (t) => {
  t.equal(await showing(''), null);
});
