/** The watermark's placement rules and where it enters the ladder's ffmpeg command (core/media/watermark.ts). */
import t from 'tap';
import { buildTranscodeArgs, type TranscodeCommandInput } from '../../core/media/transcode-command.js';
import type { ProbeResult } from '../../core/media/types.js';
import { markGeometry, resolveWatermark, watermarkOverride, type WatermarkSpec } from '../../core/media/watermark.js';

const CONFIGURED = { corner: 'bottom-right', margin: 0.03, opacity: 0.8, scale: 0.15 } as const;
const IMAGE = { file: '/etc/framecast/logo.png', demuxer: 'png_pipe', width: 400, height: 100 } as const;
const MARK: WatermarkSpec = { ...CONFIGURED, image: IMAGE };

t.test("a video's override: off, back to the configuration, or fields merged", async (t) => {
  t.equal(resolveWatermark(CONFIGURED, false), null);
  t.same(resolveWatermark(CONFIGURED, null), CONFIGURED);
  t.same(resolveWatermark(CONFIGURED, { corner: 'top-left', opacity: 0.5 }), { ...CONFIGURED, corner: 'top-left', opacity: 0.5 });
  t.notOk(watermarkOverride.safeParse({ image: '/etc/passwd' }).success, 'no image key');
  t.notOk(watermarkOverride.safeParse(true).success, 'true is not an override');
});

t.test('the mark is sized and placed relative to each rung (README: 192 px, 22 px from the edges at 720p)', async (t) => {
  t.same(markGeometry(MARK, { width: 1280, height: 720 }), { width: 192, height: 48, x: 1280 - 192 - 22, y: 720 - 48 - 22 });
  t.same(markGeometry({ ...MARK, corner: 'top-left' }, { width: 426, height: 240 }), { width: 64, height: 16, x: 7, y: 7 });
});

const probe = (video: boolean): ProbeResult => ({
  format_name: 'mov,mp4', duration_ms: 4000, width: video ? 640 : 0, height: video ? 360 : 0, rotation: 0, fps: video ? 25 : 0, vfr: false,
  video_codec: video ? 'h264' : null, has_video: video, video_duration_ms: video ? 4000 : null, audio_codec: 'aac', has_audio: true,
  audio_tracks: [{ track: 0, codec: 'aac', channels: 2, language: 'und', title: null, default: true }], cover_art: false, bit_rate: null,
  dynamic_range: 'SDR', field_order: 'progressive',
});

function command(video: boolean): string[] {
  const input: TranscodeCommandInput = {
    sourcePath: '/tmp/source.mp4', outDir: '/tmp/out', probe: probe(video), segmentSeconds: 2, preset: 'ultrafast', audioKbps: 96, encoder: 'libx264',
    storyboard: { interval_s: 2, tile_width: 96, columns: 5, rows: 5 }, watermark: MARK,
    ladder: video ? [{ name: '240p', width: 426, height: 240, video_kbps: 300 }, { name: '360p', width: 640, height: 360, video_kbps: 600 }] : [],
  };
  return buildTranscodeArgs(input);
}

t.test('one pass: the image is input 1, overlaid on each rung after its scale', async (t) => {
  const args = command(true);
  const inputs = args.flatMap((a, i) => (a === '-i' ? [args[i + 1]] : []));
  t.same(inputs, ['file:/tmp/source.mp4', `file:${IMAGE.file}`], 'the source, then the image');
  t.equal(args[args.indexOf(`file:${IMAGE.file}`) - 2], 'png_pipe', 'read only with its own demuxer');
  const graph = args[args.indexOf('-filter_complex') + 1]!;
  t.match(graph, '[1:v]format=rgba,colorchannelmixer=aa=0.8,split=2[wm0][wm1]');
  t.match(graph, '[wm0]scale=64:16[m0];[s0]scale=426:240,setsar=1[b0];[b0][m0]overlay=x=355:y=217,format=yuv420p[v0]', 'at 426x240: 64x16, 7 px from the edges');
  t.match(graph, '[wm1]scale=96:24[m1];[s1]scale=640:360,setsar=1[b1];[b1][m1]overlay=x=533:y=325,format=yuv420p[v1]', 'at 640x360: 96x24, 11 px from the edges');
});

t.test('an audio-only source has no picture to mark', async (t) => {
  t.notOk(command(false).includes(`file:${IMAGE.file}`));
});
