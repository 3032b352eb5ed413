/*
 * The native half of the player matrix, and the manifests' conformance, on ONE ready video:
 * - the HLS master and media playlists pass hls-parser's strict mode, every variant carries
 *   CODECS, RESOLUTION, FRAME-RATE, VIDEO-RANGE and the real peak/average of its segments;
 * - ffmpeg plays HLS (the master, the lowest and the highest rendition) and DASH to the end,
 *   and DASH from the middle (-ss; its HLS demuxer cannot seek in fMP4, see below);
 * - GStreamer (playbin) plays HLS and DASH to the end on the lowest and the highest rendition
 *   (picked with connection-speed), and seeks each to the middle (its Python bindings:
 *   gst-launch-1.0 cannot seek) and plays on to the end;
 * - VLC plays HLS and DASH to the end on the lowest and the highest rendition
 *   (--adaptive-logic), the highest from the middle (--start-time).
 * A proxy in front of the node records what each player fetched: reaching the end means the
 * last segment was fetched; a player stuck re-fetching one segment shows as repeats.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as HLS from 'hls-parser';
import t, { type Test } from 'tap';
import { FFMPEG } from '../helpers/media-fixtures.js';
import { startPlayerFixture, type PlayedRendition } from '../helpers/player-fixture.js';
import { startRequestLog } from '../helpers/request-log.js';

const run = promisify(execFile);
HLS.setOptions({ strictMode: true });

const fixture = await startPlayerFixture();
const proxy = await startRequestLog(fixture.server.url);
t.teardown(async () => {
  await proxy.close();
  await fixture.close();
});
const hlsUrl = proxy.url(fixture.hlsUrl);
const dashUrl = proxy.url(fixture.dashUrl);
const base = hlsUrl.replace(/master\.m3u8$/, '');
const PLAYER_TIMEOUT_MS = 60_000;

/** Why a native player cannot run here (not installed), or false. .ci/run installs them. */
async function missing(binary: string): Promise<string | false> {
  return run('sh', ['-c', `command -v ${binary}`]).then(
    () => false,
    () => `${binary} is not installed (.ci/run installs it)`,
  );
}
const gstreamerMissing = await missing('gst-launch-1.0');
const vlcMissing = await missing('cvlc');

async function text(url: string): Promise<string> {
  const r = await fetch(url);
  if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
  return r.text();
}

/** Segment count of each rendition directory, from its media playlist. */
const segmentCount = new Map<string, number>();
const master = HLS.parse(await text(hlsUrl)) as HLS.types.MasterPlaylist;
const audioName = master.variants[0]?.audio[0]?.uri?.split('/')[0] ?? 'audio';
for (const name of [...fixture.renditions.map((r) => r.name), audioName]) {
  const playlist = HLS.parse(await text(`${base}${name}/index.m3u8`)) as HLS.types.MediaPlaylist;
  segmentCount.set(name, playlist.segments.length);
}

/** What the player fetched, per rendition directory: segment numbers in request order. */
function fetchedSegments(paths: string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const p of paths) {
    const m = /\/([^/]+)\/seg-(\d+)\.m4s$/.exec(p);
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), Number(m[2])]);
  }
  return out;
}

/**
 * Checks the player fetched `rendition` to its last segment, the video as a whole from
 * `from` to the end with no gap, the audio to its end, and no segment again and again.
 */
function assertPlayedToEnd(t: Test, paths: string[], rendition: PlayedRendition, from = 0, maxFetches = 2): void {
  const fetched = fetchedSegments(paths);
  const last = (segmentCount.get(rendition.name) ?? 0) - 1;
  t.ok(fetched.get(rendition.name)?.includes(last), `the last segment of ${rendition.name} is fetched`, { fetched: Object.fromEntries(fetched) });
  const video = new Set(fixture.renditions.flatMap((r) => fetched.get(r.name) ?? []));
  const missing = Array.from({ length: last + 1 - from }, (_, i) => from + i).filter((n) => !video.has(n));
  t.same(missing, [], `every video segment from ${from} to the end is fetched`);
  t.ok(fetched.get(audioName)?.includes((segmentCount.get(audioName) ?? 0) - 1), 'the audio is fetched to its end');
  const counts = new Map<string, number>();
  for (const p of paths) counts.set(p, (counts.get(p) ?? 0) + 1);
  const repeated = [...counts].filter(([p, n]) => /seg-/.test(p) && n > maxFetches);
  t.same(repeated, [], 'no segment is fetched again and again');
}

t.test('the playlists pass hls-parser strict mode; variants are complete with real bit rates', async (t) => {
  t.equal(master.variants.length, 3, 'one variant per rendition');
  const raw = await text(hlsUrl);
  t.equal((raw.match(/^#EXT-X-STREAM-INF:.*VIDEO-RANGE=SDR/gm) ?? []).length, 3, 'every variant has VIDEO-RANGE');
  const audioBytes = await segmentStats(audioName);
  for (const variant of master.variants) {
    const name = variant.uri.split('/')[0]!;
    t.ok(variant.resolution && variant.codecs?.match(/^avc1\.[0-9a-f]{6},mp4a\.40\.2$/), `${name}: RESOLUTION and CODECS`);
    t.equal(variant.frameRate, 30, `${name}: FRAME-RATE`);
    const [audio] = variant.audio;
    t.ok(audio?.language && audio.channels === '2' && audio.isDefault, `${name}: its audio has LANGUAGE, CHANNELS, DEFAULT`);
    const video = await segmentStats(name);
    const peak = video.peak + audioBytes.peak;
    const average = video.average + audioBytes.average;
    t.ok(Math.abs(variant.bandwidth - peak) <= peak * 0.01, `${name}: BANDWIDTH ${variant.bandwidth} is the segments' peak ${Math.round(peak)}`);
    t.ok(Math.abs((variant.averageBandwidth ?? 0) - average) <= average * 0.01, `${name}: AVERAGE-BANDWIDTH ${variant.averageBandwidth} ≈ ${Math.round(average)}`);
    const api = fixture.renditions.find((r) => r.name === name);
    t.equal(api?.bitrate_kbps, Math.round(variant.bandwidth / 1000), `${name}: the API's bitrate_kbps is the same real figure`);
  }
});

/** Peak (max of bytes·8/EXTINF) and average bit rate of a rendition's segments, over HTTP. */
async function segmentStats(name: string): Promise<{ peak: number; average: number }> {
  const playlist = HLS.parse(await text(`${base}${name}/index.m3u8`)) as HLS.types.MediaPlaylist;
  let peak = 0;
  let bytes = 0;
  let seconds = 0;
  for (const seg of playlist.segments) {
    const size = (await (await fetch(`${base}${name}/${seg.uri}`)).arrayBuffer()).byteLength;
    peak = Math.max(peak, (size * 8) / seg.duration);
    bytes += size;
    seconds += seg.duration;
  }
  return { peak, average: (bytes * 8) / seconds };
}

t.test('the MPD is a live-profile SegmentTemplate MPD with real bandwidths, frame rate and languages', async (t) => {
  const mpd = await text(dashUrl);
  t.match(mpd, /profiles="urn:mpeg:dash:profile:isoff-live:2011"/);
  t.notMatch(mpd, /SegmentList|isoff-on-demand/);
  t.match(mpd, /contentType="audio"[^>]* lang="[a-z]{2,3}"/);
  for (const r of fixture.renditions) {
    const rep = new RegExp(`<Representation id="${r.name}" bandwidth="(\\d+)" codecs="avc1\\.[0-9a-f]{6}" width="${r.width}" height="${r.height}" frameRate="30"`).exec(mpd);
    t.ok(rep, `${r.name} is listed with its size and frame rate`);
    const { peak } = await segmentStats(r.name);
    t.ok(Math.abs(Number(rep?.[1]) - peak) <= peak * 0.01, `${r.name}: bandwidth ${rep?.[1]} is its segments' peak ${Math.round(peak)}`);
  }
});

/** ffmpeg decodes the input to the end; returns how much media it output, seconds. */
async function ffmpegPlays(url: string, seekTo?: number): Promise<number> {
  const args = ['-hide_banner', '-v', 'error', '-nostats', '-progress', 'pipe:1', ...(seekTo ? ['-ss', String(seekTo)] : []), '-i', url, '-f', 'null', '-'];
  const { stdout } = await run(FFMPEG, args, { timeout: PLAYER_TIMEOUT_MS });
  const times = [...stdout.matchAll(/^out_time_us=(\d+)$/gm)].map((m) => Number(m[1]));
  return Math.max(0, ...times) / 1e6;
}

t.test('ffmpeg plays HLS to the end, also the lowest and highest rendition alone', async (t) => {
  for (const url of [hlsUrl, `${base}${fixture.lowest.name}/index.m3u8`, `${base}${fixture.highest.name}/index.m3u8`]) {
    const whole = await ffmpegPlays(url);
    t.ok(whole >= fixture.duration_s - 0.3, `${url.slice(base.length)}: decodes ${whole.toFixed(2)} of ${fixture.duration_s} s`);
  }
  // No -ss here: FFmpeg's HLS demuxer cannot seek in fMP4 playlists at all, Apple's own
  // examples included ("Invalid NAL unit size" after the seek; mpv-player/mpv#15184).
});

t.test('ffmpeg plays DASH to the end, and from the middle', async (t) => {
  const whole = await ffmpegPlays(dashUrl);
  t.ok(whole >= fixture.duration_s - 0.3, `decodes ${whole.toFixed(2)} of ${fixture.duration_s} s`);
  const middle = fixture.duration_s / 2;
  const rest = await ffmpegPlays(dashUrl, middle);
  t.ok(rest >= fixture.duration_s - middle - 0.3 && rest <= fixture.duration_s - middle + 1, `from the middle: ${rest.toFixed(2)} s`);
});

/** Runs a player and returns the paths it fetched. */
async function fetchedBy(command: string, args: string[]): Promise<string[]> {
  proxy.clear();
  await run(command, args, { timeout: PLAYER_TIMEOUT_MS });
  return proxy.paths();
}

for (const [kind, url] of [['HLS', hlsUrl], ['DASH', dashUrl]] as const) {
  for (const [which, speed] of [['lowest', 1], ['highest', 1_000_000]] as const) {
    t.test(`GStreamer plays ${kind} to the end on the ${which} rendition`, { skip: gstreamerMissing }, async (t) => {
      const sink = 'fakesink sync=false';
      const paths = await fetchedBy('gst-launch-1.0', ['-q', 'playbin', `uri=${url}`, `connection-speed=${speed}`, `video-sink=${sink}`, `audio-sink=${sink}`]);
      assertPlayedToEnd(t, paths, fixture[which]);
    });
  }
}

/** GStreamer with its Python bindings (python3-gst-1.0), which can seek where gst-launch cannot. */
const GST_SEEK = fileURLToPath(new URL('../fixtures/gst-seek.py', import.meta.url));
const gstSeekMissing =
  gstreamerMissing ||
  (await run('/usr/bin/python3', ['-c', 'import gi; gi.require_version("Gst", "1.0")']).then(
    () => false,
    () => "GStreamer's Python bindings are not installed (.ci/run installs python3-gst-1.0)",
  ));

for (const [kind, url] of [['HLS', hlsUrl], ['DASH', dashUrl]] as const) {
  t.test(`GStreamer seeks ${kind} to the middle and plays on to the end`, { skip: gstSeekMissing }, async (t) => {
    const middle = fixture.duration_s / 2;
    proxy.clear();
    const { stdout } = await run('/usr/bin/python3', [GST_SEEK, url, String(middle)], { timeout: PLAYER_TIMEOUT_MS });
    const position = Number(/position (\d+(?:\.\d+)?)/.exec(stdout)?.[1]);
    // KEY_UNIT: the keyframe at or before the target, and keyframes start every 2 s segment.
    t.ok(position >= middle - 2.1 && position <= middle + 0.2, `after the seek it plays on from ${position} s (asked ${middle} s)`);
    t.match(stdout, /eos/, 'and plays on to the end');
    const paths = proxy.paths();
    // Prerolling fetched the start; from the seek on, every segment to the last.
    const fetched = fetchedSegments(paths);
    const rendition = fixture.renditions.find((r) => fetched.get(r.name)?.includes((segmentCount.get(r.name) ?? 0) - 1)) ?? fixture.lowest;
    // A flushing seek may fetch the segment it lands in a third time (prerolled, searched
    // for its keyframe, played) when the machine is slow; a loop fetches far more.
    assertPlayedToEnd(t, paths, rendition, Math.floor(middle / 2), 3);
  });
}

/** cvlc refuses to run as root: an ordinary user runs it (created once if missing). */
const VLC_USER = 'framecast-player';
async function vlcCommand(args: string[]): Promise<[string, string[]]> {
  if (process.getuid?.() !== 0) return ['cvlc', args];
  await run('id', [VLC_USER]).catch(() =>
    run('useradd', ['--system', '--create-home', '--home-dir', `/tmp/${VLC_USER}-home`, '--shell', '/usr/sbin/nologin', VLC_USER]),
  );
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return ['su', ['-s', '/bin/sh', VLC_USER, '-c', `cvlc ${quoted}`]];
}

for (const [kind, url] of [['HLS', hlsUrl], ['DASH', dashUrl]] as const) {
  for (const which of ['lowest', 'highest'] as const) {
    const from = which === 'highest' ? Math.floor(fixture.duration_s / 2) : 0;
    t.test(`VLC plays ${kind} to the end on the ${which} rendition${from ? ' from the middle' : ''}`, { skip: vlcMissing }, async (t) => {
      const args = ['-q', '--play-and-exit', '--vout=dummy', '--aout=dummy', '--rate=4', `--adaptive-logic=${which}`];
      if (from) args.push(`--start-time=${from}`);
      const [command, full] = await vlcCommand([...args, url]);
      const paths = await fetchedBy(command, full);
      // After a seek VLC may still have fetched the first segments while opening.
      assertPlayedToEnd(t, paths, fixture[which], from ? Math.floor(from / 2) : 0);
      const other = fixture.renditions.filter((r) => r !== fixture[which]).flatMap((r) => fetchedSegments(paths).get(r.name) ?? []);
      t.same(other, [], `only the ${which} rendition is fetched`);
    });
  }
}
