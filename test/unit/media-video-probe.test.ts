/*
 * The probe's picture decisions on their own: the nominal rate of variable-rate and
 * millisecond-rounded timestamps, the output rate under transcode.max_fps, the dynamic range
 * of tagged and Dolby Vision sources, the field order and the pixel aspect.
 */
import t from 'tap';
import { outputFrameRate, toneMapFilter } from '../../core/media/video-filters.js';
import { declaredFieldOrder, dynamicRangeOf, measureFrameRate, sampleAspect } from '../../core/media/video-probe.js';

/** Timestamps of `seconds` at `fps`, from `start`, optionally rounded to whole milliseconds (Matroska). */
function stamps(fps: number, seconds: number, start = 0, ms = false): number[] {
  return Array.from({ length: Math.round(fps * seconds) }, (_, i) => {
    const t = start + i / fps;
    return ms ? Math.round(t * 1000) / 1000 : t;
  });
}

t.test('the nominal rate is the highest rate the source really uses', async (t) => {
  t.same(measureFrameRate([...stamps(30, 4), ...stamps(24, 4, 4)], 30)?.nominal, 30, '30 then 24 fps: 30');
  t.same(measureFrameRate([...stamps(24, 4), ...stamps(30, 4, 4)], null)?.nominal, 30, '24 then 30 fps: 30');
  t.equal(measureFrameRate(stamps(30000 / 1001, 4, 0, true), null)?.nominal, 29.97, 'ms-rounded 29.97 stays 29.97');
  t.equal(measureFrameRate(stamps(120, 2, 0, true), null)?.nominal, 120, 'ms-rounded 120 (8/9 ms) is 120');
  t.equal(measureFrameRate(stamps(25, 4), 25)?.nominal, 25);
  const glitch = [...stamps(30, 4), 1.0005];
  t.equal(measureFrameRate(glitch, null)?.nominal, 30, 'one stray timestamp is not a 2000 fps rate');
  const jitter = stamps(30, 4).map((x, i) => x + (i % 3) * 0.002);
  t.equal(measureFrameRate(jitter, null)?.nominal, 30, 'phone jitter still reads as 30');
  t.equal(measureFrameRate([0, 0.04], 25), null, 'too few frames to tell');
  const vfr = measureFrameRate([...stamps(30, 4), ...stamps(24, 4, 4)], 30);
  t.ok(vfr && Math.abs(vfr.average - 26.7) < 0.5, `average ${vfr?.average}`);
});

t.test('the output rate is capped by max_fps without judder, deinterlaced video at its field rate', async (t) => {
  const p = (fps: number, field_order: 'progressive' | 'tff' = 'progressive') => ({ fps, field_order });
  t.equal(outputFrameRate(p(120)), 60);
  t.equal(outputFrameRate(p(119.88)), 59.94);
  t.equal(outputFrameRate(p(100)), 50, '100 → 50, not a juddering 60');
  t.equal(outputFrameRate(p(60)), 60);
  t.equal(outputFrameRate(p(23.976)), 23.976);
  t.equal(outputFrameRate(p(25, 'tff')), 50, '576i25 → 50p');
  t.equal(outputFrameRate(p(29.97, 'tff')), 59.94, '1080i → 59.94p');
  t.equal(outputFrameRate(p(120), 30), 30, 'max_fps 30');
  t.equal(outputFrameRate(p(50), 30), 25);
});

t.test('dynamic range from the transfer, Dolby Vision 8.4 as HLG', async (t) => {
  t.equal(dynamicRangeOf({ color_transfer: 'arib-std-b67' }), 'HLG');
  t.equal(dynamicRangeOf({ color_transfer: 'smpte2084' }), 'PQ');
  t.equal(dynamicRangeOf({ color_transfer: 'bt709' }), 'SDR');
  t.equal(dynamicRangeOf({}), 'SDR');
  const dovi = (id: number) => [{ side_data_type: 'DOVI configuration record', dv_profile: 8, dv_bl_signal_compatibility_id: id }];
  t.equal(dynamicRangeOf({ side_data_list: dovi(4) }), 'HLG', 'Dolby Vision 8.4 untagged');
  t.equal(dynamicRangeOf({ color_transfer: 'arib-std-b67', side_data_list: dovi(4) }), 'HLG');
  t.equal(dynamicRangeOf({ side_data_list: dovi(1) }), 'PQ', 'Dolby Vision 8.1');
  t.equal(toneMapFilter('SDR'), null);
  t.match(toneMapFilter('HLG', { width: 1280, height: 720 }), /^zscale=w=1280:h=720:tin=arib-std-b67:.*tonemap=.*zscale=t=bt709:m=bt709/);
});

t.test('field order and pixel aspect', async (t) => {
  t.equal(declaredFieldOrder({ field_order: 'tt', codec_name: 'h264' }), 'tff');
  t.equal(declaredFieldOrder({ field_order: 'bb', codec_name: 'mpeg2video' }), 'bff');
  t.equal(declaredFieldOrder({ field_order: 'progressive', codec_name: 'h264' }), 'progressive');
  t.equal(declaredFieldOrder({ codec_name: 'mpeg2video' }), null, 'unknown: idet decides');
  t.equal(declaredFieldOrder({ codec_name: 'vp9' }), 'progressive', 'VP9 cannot be interlaced');
  t.equal(sampleAspect({ sample_aspect_ratio: '4:3' }), 4 / 3);
  t.equal(sampleAspect({ sample_aspect_ratio: '0:1' }), 1);
  t.equal(sampleAspect({}), 1);
});
