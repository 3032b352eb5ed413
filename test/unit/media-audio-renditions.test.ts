import t from 'tap';
import { normaliseLanguage, planAudioRenditions } from '../../core/media/audio-renditions.js';
import { parseTagDuration } from '../../core/media/probe.js';
import { audioEndSample, hlsLadderOutputArgs } from '../../core/media/transcode-command.js';
import type { AudioTrack } from '../../core/media/types.js';

const track = (n: number, extra: Partial<AudioTrack> = {}): AudioTrack => ({
  track: n,
  codec: 'aac',
  channels: 2,
  language: 'und',
  title: null,
  default: false,
  ...extra,
});

t.test('labels come from titles, then language names, then "Audio N", and stay unique', async (t) => {
  const plan = planAudioRenditions(
    [track(0, { language: 'eng' }), track(1, { language: 'eng' }), track(2, { title: 'Director' }), track(3)],
    128,
    8,
  );
  t.same(plan.map((a) => a.label), ['English', 'English (2)', 'Director', 'Audio 4']);
  t.same(plan.map((a) => a.default), [true, false, false, false], 'no flag: the first track is the default');
});

t.test('the first flagged track is the default, its surround companion too; the cap drops later tracks', async (t) => {
  const plan = planAudioRenditions(
    [track(0, { default: false }), track(1, { default: true, channels: 6, language: 'fra' }), track(2, { default: true }), track(3)],
    100,
    3,
  );
  t.same(
    plan.map((a) => [a.name, a.channels, a.default, a.bitrate_kbps, a.label]),
    [
      ['audio-0', 2, false, 100, 'Audio 1'],
      ['audio-1', 2, true, 100, 'French'],
      ['audio-1-surround', 6, true, 300, 'French 5.1'],
      ['audio-2', 2, false, 100, 'Audio 3'],
    ],
  );
  t.same(planAudioRenditions([track(0, { channels: 8 })], 128, 8).map((a) => a.channels), [2, 8], '7.1 keeps 8 channels');
  t.same(planAudioRenditions([track(0, { channels: 4 })], 128, 8).map((a) => a.channels), [2], 'quad is only downmixed');
});

t.test('language tags are kept when well formed, "und" otherwise', async (t) => {
  t.same(['eng', 'pt-BR', 'FRA', '', 'x', 'en glish', 'a"b'].map((l) => normaliseLanguage(l)), ['eng', 'pt-br', 'fra', 'und', 'und', 'und', 'und']);
});

t.test('the audio is cut at the first AAC frame at or after the end of the video the fps filter makes', async (t) => {
  t.equal(audioEndSample({ has_video: false, video_duration_ms: null }, 0), null, 'audio-only: no cut');
  for (const [ms, fps, frames] of [[4021, 30, 121], [4000, 30, 120], [4000, 25, 100], [2002, 29.97, 60]] as const) {
    const end = audioEndSample({ has_video: true, video_duration_ms: ms }, fps)!;
    t.equal(end % 1024, 0, 'whole frames');
    // Encoded, the priming frame comes first: the audio lasts end + 1024 samples.
    const videoEnd = (frames / fps) * 48000;
    t.ok(end + 1024 >= videoEnd - 1e-6 && end < videoEnd, `${ms} ms at ${fps} fps: audio ends at ${(end + 1024) / 48} ms, video at ${videoEnd / 48} ms`);
  }
  t.equal(parseTagDuration('00:00:04.021000000'), 4.021);
  t.equal(parseTagDuration('01:02:03.5'), 3723.5);
  t.equal(parseTagDuration('garbage'), undefined);
});

t.test('var_stream_map carries each audio rendition with language and one default', async (t) => {
  const args = hlsLadderOutputArgs({
    names: ['240p'],
    hasAudio: true,
    audio: [
      { name: 'audio-0', language: 'eng', default: false, channels: 2 },
      { name: 'audio-1', language: 'fra', default: true, channels: 2 },
      { name: 'audio-1-surround', language: 'fra', default: true, channels: 6 },
    ],
    segmentSeconds: 2,
    outDir: '/out',
    listSize: 0,
  });
  t.equal(
    args[args.indexOf('-var_stream_map') + 1],
    'v:0,agroup:aud,name:240p a:0,agroup:aud,name:audio-0,language:eng a:1,agroup:aud,name:audio-1,language:fra,default:yes ' +
      'a:2,agroup:aud,name:audio-1-surround,language:fra',
  );
  const live = hlsLadderOutputArgs({ names: ['240p'], hasAudio: true, segmentSeconds: 2, outDir: '/out', listSize: 0 });
  t.equal(live[live.indexOf('-var_stream_map') + 1], 'v:0,agroup:aud,name:240p a:0,agroup:aud,name:audio', 'live keeps its one audio rendition');
});
