import t from 'tap';
import { buildLadder, type RungSpec } from '../../core/media/ladder.js';

const DEFAULT_LADDER: RungSpec[] = [
  { name: '240p', height: 240, video_kbps: 300 },
  { name: '360p', height: 360, video_kbps: 600 },
  { name: '480p', height: 480, video_kbps: 1100 },
  { name: '720p', height: 720, video_kbps: 2500 },
  { name: '1080p', height: 1080, video_kbps: 4500 },
];

const cases: { source: [number, number]; expect: string[] }[] = [
  { source: [1920, 1080], expect: ['240p 426x240', '360p 640x360', '480p 854x480', '720p 1280x720', '1080p 1920x1080'] },
  { source: [854, 480], expect: ['240p 428x240', '360p 640x360', '480p 854x480'] },
  { source: [1080, 1920], expect: ['240p 240x426', '360p 360x640', '480p 480x854', '720p 720x1280', '1080p 1080x1920'] },
  { source: [320, 180], expect: ['180p 320x180'] },
  { source: [256, 144], expect: ['144p 256x144'] },
  { source: [175, 311], expect: ['174p 174x310'] },
  { source: [1280, 720], expect: ['240p 426x240', '360p 640x360', '480p 854x480', '720p 1280x720'] },
  { source: [1000, 600], expect: ['240p 400x240', '360p 600x360', '480p 800x480'] },
  { source: [640, 640], expect: ['240p 240x240', '360p 360x360', '480p 480x480'] },
];

for (const c of cases) {
  t.test(`a ${c.source.join('x')} source gets ${c.expect.length} rung(s)`, async (t) => {
    const ladder = buildLadder({ width: c.source[0], height: c.source[1] }, DEFAULT_LADDER);
    t.same(ladder.map((r) => `${r.name} ${r.width}x${r.height}`), c.expect);
    for (const r of ladder) {
      t.equal(r.width % 2, 0, `${r.name} width is even`);
      t.equal(r.height % 2, 0, `${r.name} height is even`);
      t.equal(r.height > r.width, c.source[1] > c.source[0], `${r.name} keeps the orientation`);
      const aspect = c.source[0] / c.source[1];
      t.ok(Math.abs(r.width / r.height - aspect) / aspect < 0.02, `${r.name} keeps the aspect ratio`);
    }
  });
}

t.test('a configured rung keeps its bitrate; a tiny source gets a scaled-down one', async (t) => {
  t.same(buildLadder({ width: 854, height: 480 }, DEFAULT_LADDER).map((r) => r.video_kbps), [300, 600, 1100]);
  const [tiny] = buildLadder({ width: 320, height: 180 }, DEFAULT_LADDER);
  t.ok(tiny && tiny.video_kbps < 300 && tiny.video_kbps >= 64);
});

t.test('rungs are sorted whatever the configured order', async (t) => {
  const shuffled = [...DEFAULT_LADDER].reverse();
  t.same(buildLadder({ width: 1280, height: 720 }, shuffled).map((r) => r.name), ['240p', '360p', '480p', '720p']);
});
