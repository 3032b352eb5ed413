import { access, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { AppError } from '../../core/errors.js';
import { FfmpegError, FfmpegUnavailableError, resolveFfmpeg, runFfmpeg, safeInputArgs } from '../../core/media/ffmpeg.js';
import { detectEncoders, pickEncoder } from '../../core/media/hwaccel.js';
import { probeSource } from '../../core/media/probe.js';
import {
  FFMPEG,
  FFPROBE,
  makeAudioOnly,
  makeClip,
  makeConcatList,
  makeHlsPlaylist,
  makePng,
  makeSubtitlesOnly,
  makeTextFile,
} from '../helpers/media-fixtures.js';

const LIMITS = { max_duration_s: 14_400, max_pixels: 8192 * 4320 };

async function probeCode(file: string, limits = LIMITS): Promise<string> {
  try {
    await probeSource(FFPROBE, file, limits);
    return 'accepted';
  } catch (err) {
    return err instanceof AppError ? err.code : `unexpected ${String(err)}`;
  }
}

t.test('a normal clip is described', async (t) => {
  const dir = t.testdir();
  const clip = await makeClip(dir, { width: 320, height: 240, seconds: 2, fps: 25 });
  const p = await probeSource(FFPROBE, clip, LIMITS);
  t.match(p, { width: 320, height: 240, rotation: 0, fps: 25, vfr: false, video_codec: 'h264', audio_codec: 'aac', has_audio: true });
  t.ok(Math.abs(p.duration_ms - 2000) < 100, `duration ${p.duration_ms}`);
  t.match(p.format_name, /mp4/);
});

t.test('portrait and rotated sources report display sizes', async (t) => {
  const dir = t.testdir();
  const portrait = await probeSource(FFPROBE, await makeClip(dir, { width: 180, height: 320, seconds: 1, name: 'p.mp4' }), LIMITS);
  t.match(portrait, { width: 180, height: 320, rotation: 0 });
  const rotated = await probeSource(
    FFPROBE,
    await makeClip(dir, { width: 320, height: 180, seconds: 1, rotate: 90, name: 'r.mp4', audio: false }),
    LIMITS,
  );
  t.ok(rotated.rotation === 90 || rotated.rotation === 270, `rotation ${rotated.rotation}`);
  t.match(rotated, { width: 180, height: 320, has_audio: false, audio_codec: null });
});

t.test('an audio-only file is described as such', async (t) => {
  const dir = t.testdir();
  const p = await probeSource(FFPROBE, await makeAudioOnly(dir), LIMITS);
  t.match(p, { has_video: false, has_audio: true, width: 0, height: 0, fps: 0, video_codec: null, audio_codec: 'aac', cover_art: false });
  t.match(p.audio_tracks, [{ track: 0, codec: 'aac', channels: 1, language: 'und', title: null }]);
  t.ok(Math.abs(p.duration_ms - 2000) < 100, `duration ${p.duration_ms}`);
});

t.test('each kind of bad source is refused with its code', async (t) => {
  const dir = t.testdir();
  const cases: [string, () => Promise<string>, string, typeof LIMITS?][] = [
    ['a text file', () => makeTextFile(dir), 'E_NOT_MEDIA'],
    ['a PNG image', () => makePng(dir), 'E_NOT_MEDIA'],
    ['an audio-only m4a', () => makeAudioOnly(dir), 'accepted'],
    ['a file with neither audio nor video', () => makeSubtitlesOnly(dir), 'E_NO_VIDEO_STREAM'],
    [
      'PNG frames in a MOV',
      () => makeClip(dir, { width: 64, height: 48, seconds: 1, videoCodec: 'png', name: 'png.mov', audio: false }),
      'E_CODEC_UNSUPPORTED',
    ],
    [
      'rawvideo in a MKV',
      () => makeClip(dir, { width: 64, height: 48, seconds: 1, videoCodec: 'rawvideo', name: 'raw.mkv', audio: false }),
      'E_CODEC_UNSUPPORTED',
    ],
    ['a clip over the duration limit', () => makeClip(dir, { width: 64, height: 48, seconds: 3, name: 'long.mp4' }), 'E_TOO_LONG', { ...LIMITS, max_duration_s: 2 }],
    [
      'a clip over the pixel limit',
      () => makeClip(dir, { width: 320, height: 240, seconds: 1, name: 'big.mp4' }),
      'E_RESOLUTION_TOO_HIGH',
      { ...LIMITS, max_pixels: 320 * 239 },
    ],
  ];
  for (const [what, make, code, limits] of cases) t.equal(await probeCode(await make(), limits), code, what);
});

t.test('playlists and concat lists naming local files are refused and read nothing', async (t) => {
  const dir = t.testdir();
  const secretClip = await makeClip(dir, { width: 64, height: 48, seconds: 1, name: 'someone-else.mp4' });
  const targets = ['/etc/passwd', secretClip];
  const evil = [
    await makeHlsPlaylist(dir, targets),
    await makeHlsPlaylist(dir, [secretClip], 'playlist-as-video.mp4'),
    await makeConcatList(dir, [secretClip]),
    await makeConcatList(dir, [secretClip], 'list.ffconcat'),
  ];
  const passwd = (await readFile('/etc/passwd', 'utf8')).split('\n')[0] ?? 'root:';
  for (const file of evil) {
    t.equal(await probeCode(file), 'E_NOT_MEDIA', `${path.basename(file)} is not media`);
    // Even fed straight to ffmpeg (as the transcode would), nothing is read or written.
    const out = path.join(dir, `${path.basename(file)}.out.mkv`);
    const err = await runFfmpeg(FFMPEG, ['-hide_banner', '-y', ...safeInputArgs(file), '-c', 'copy', out]).catch((e: unknown) => e);
    t.ok(err instanceof FfmpegError && err.reason === 'exit', `ffmpeg refuses ${path.basename(file)}`);
    t.match((err as FfmpegError).stderrTail, /not on whitelist/);
    await t.rejects(access(out), 'no output file');
  }
  for (const name of await readdir(dir)) {
    if (name === 'passwd') continue;
    const content = await readFile(path.join(dir, name));
    t.notOk(content.includes(passwd), `${name} holds nothing of /etc/passwd`);
  }
});

t.test('resolveFfmpeg finds ffmpeg 5+ and explains what is missing', async (t) => {
  const found = await resolveFfmpeg({ PATH: process.env.PATH });
  t.ok(found.major >= 5, found.version);
  t.match(found.ffprobePath, /ffprobe$/);
  const dir = t.testdir();
  await t.rejects(resolveFfmpeg({ PATH: dir }), FfmpegUnavailableError);
  await t.rejects(resolveFfmpeg({ PATH: dir, FFMPEG_PATH: path.join(dir, 'nope') }), /FFMPEG_PATH.*does not run.*set FFMPEG_PATH/);
  const viaEnv = await resolveFfmpeg({ PATH: dir, FFMPEG_PATH: found.ffmpegPath, FFPROBE_PATH: found.ffprobePath });
  t.equal(viaEnv.ffmpegPath, found.ffmpegPath);
});

t.test('only libx264 really encodes here; a forced hardware encoder falls back with its reason', async (t) => {
  const forced = await pickEncoder(FFMPEG, 'nvenc');
  t.equal(forced.encoder, 'libx264');
  t.match(forced.tried[0], { encoder: 'h264_nvenc', ok: false });
  t.ok((forced.tried[0]?.reason.length ?? 0) > 0, `reason: ${forced.tried[0]?.reason}`);
  const none = await detectEncoders(FFMPEG, 'none');
  t.same(none.usable, ['libx264']);
});

t.test('runFfmpeg kills ffmpeg on abort and on timeout', async (t) => {
  const endless = ['-hide_banner', '-progress', 'pipe:1', '-f', 'lavfi', '-i', 'testsrc2=size=64x48', '-f', 'null', '-'];
  const controller = new AbortController();
  const running = runFfmpeg(FFMPEG, endless, { signal: controller.signal, onProgress: () => controller.abort() });
  t.match(await running.catch((e: unknown) => e), { name: 'FfmpegError', reason: 'aborted' });
  const timedOut = await runFfmpeg(FFMPEG, endless, { timeoutMs: 300 }).catch((e: unknown) => e);
  t.match(timedOut, { name: 'FfmpegError', reason: 'timeout' });
});
