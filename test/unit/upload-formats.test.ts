/**
 * The upload page's picker offers the files the probe opens: every demuxer in
 * SAFE_INPUT_FORMATS has its file extensions listed, and the audio files the server turns
 * into audio-only videos are among them.
 */
import t from 'tap';
import { SAFE_INPUT_FORMATS } from '../../core/media/ffmpeg.js';
import { DEMUXER_EXTENSIONS, uploadAccept, uploadExtensions } from '../../core/media/upload-formats.js';

t.test('every accepted demuxer has its file extensions listed', async (t) => {
  const missing = SAFE_INPUT_FORMATS.filter((format) => !DEMUXER_EXTENSIONS[format]?.length);
  t.same(missing, [], 'add them to DEMUXER_EXTENSIONS in core/media/upload-formats.ts');
});

t.test('no extension is offered for a demuxer the probe refuses', async (t) => {
  const extra = Object.keys(DEMUXER_EXTENSIONS).filter((format) => !SAFE_INPUT_FORMATS.includes(format));
  t.same(extra, [], 'DEMUXER_EXTENSIONS lists only SAFE_INPUT_FORMATS');
  t.same(uploadExtensions(['mov', 'hls']), ['mp4', 'm4v', 'mov', 'm4a', '3gp', '3g2', 'mj2'], 'an unlisted demuxer adds nothing');
});

t.test('video and audio files are offered, playlists and images are not', async (t) => {
  const offered = uploadExtensions();
  for (const extension of ['mp4', 'mov', 'mkv', 'webm', 'avi', 'ts', 'm4a', 'mp3', 'flac', 'wav', 'ogg']) {
    t.ok(offered.includes(extension), `.${extension} is offered`);
  }
  for (const extension of ['m3u8', 'mpd', 'txt', 'png', 'jpg', 'gif']) {
    t.notOk(offered.includes(extension), `.${extension} is not`);
  }
  t.match(uploadAccept(), /^(\.[a-z0-9]+,)*\.[a-z0-9]+$/, 'the accept attribute is a comma-separated list of extensions');
});
