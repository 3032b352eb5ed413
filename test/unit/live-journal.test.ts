/**
 * The live packager's journal: entries come back in order, a line torn by a crash ends the
 * replay without losing what came before, a failed write does not stop the live, and a
 * packager resumed from a journal has the runs, timeline and dropped renditions the
 * earlier one published.
 */
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createLogger } from '../../core/logger.js';
import type { ObjectStore } from '../../core/storage/object-store.js';
import { JOURNAL_FILE, LiveJournal, type JournaledRun } from '../../live/live-journal.js';
import { LivePackager } from '../../live/live-packager.js';

const dir = await mkdtemp(join(tmpdir(), 'framecast-journal-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

const run1: JournaledRun = {
  run: 1,
  ladder: [
    { name: '240p', width: 426, height: 240, video_kbps: 300, passthrough: false },
    { name: '360p', width: 640, height: 360, video_kbps: 800, passthrough: true },
  ],
  hasAudio: true,
  fps: 30,
  ingestKbps: 800,
};
const segment = (run: number, dir: string, n: number, duration = 2) => ({ run, dir, file: `r${run}-seg-${String(n).padStart(5, '0')}.m4s`, init: `r${run}-init.mp4`, duration });

t.test('entries replay in order; a torn last line ends the replay', async (t) => {
  const work = join(dir, 'torn');
  await mkdir(work);
  const journal = new LiveJournal(work, (err) => t.fail(String(err)));
  journal.append({ t: 'run', run: run1 });
  journal.append({ t: 'segment', dir: '240p', segment: segment(1, '240p', 0) });
  journal.append({ t: 'segment', dir: '240p', segment: segment(1, '240p', 1) });
  await journal.flush();
  await appendFile(join(work, JOURNAL_FILE), '{"t":"segment","dir":"240p","segm');
  const entries = await new LiveJournal(work, () => {}).read();
  t.same(entries.map((e) => e.t), ['run', 'segment', 'segment']);
  t.same(await new LiveJournal(join(dir, 'none'), () => {}).read(), [], 'no journal: nothing to replay');
});

t.test('a write that fails is reported and does not block the next ones', async (t) => {
  const errors: unknown[] = [];
  const journal = new LiveJournal(join(dir, 'missing-dir'), (err) => errors.push(err));
  journal.append({ t: 'run', run: run1 });
  await journal.flush();
  t.equal(errors.length, 1, 'the failure is reported');
  t.match(String(errors[0]), /ENOENT/);
  await mkdir(join(dir, 'missing-dir'));
  journal.append({ t: 'run', run: run1 });
  await journal.flush();
  t.equal((await journal.read()).length, 1, 'later entries are written');
});

t.test('a packager resumed from a journal continues where the earlier one stopped', async (t) => {
  const work = join(dir, 'resume');
  await mkdir(work);
  const journal = new LiveJournal(work, (err) => t.fail(String(err)));
  journal.append({ t: 'run', run: run1 });
  for (const rendition of ['240p', '360p', 'audio']) {
    for (let n = 0; n < 3; n++) journal.append({ t: 'segment', dir: rendition, segment: segment(1, rendition, n, n === 2 ? 2.4 : 2) });
  }
  journal.append({ t: 'dropped', name: '360p', standIn: '240p' });
  journal.append({ t: 'segment', dir: '240p', segment: segment(1, '240p', 3) });
  await journal.flush();

  const packager = new LivePackager({
    liveId: 'journaltest1',
    store: {} as ObjectStore,
    workDir: work,
    ffmpegPath: 'ffmpeg',
    encoder: 'libx264',
    segmentSeconds: 2, partSeconds: 0.5,
    window: 6,
    preset: 'ultrafast',
    audioKbps: 128,
    record: true,
    maxLagMs: 5000,
    logger: createLogger('silent'),
  });
  t.ok(await packager.resume(), 'there is a live to take over');
  t.equal(packager.runCount, 1, 'the next run is run 2');
  t.same(packager.firstLadder(), run1.ladder);
  t.same(packager.droppedRenditions(), ['360p']);
  const timelines = packager.timelines();
  t.same([...timelines.keys()].sort(), ['240p', 'audio'], 'the dropped rendition is continued by its stand-in');
  t.same(
    timelines.get('240p')!.map((s) => s.file),
    ['r1-seg-00000.m4s', 'r1-seg-00001.m4s', 'r1-seg-00002.m4s', 'r1-seg-00003.m4s'],
  );
  t.equal(timelines.get('audio')!.length, 3);
});
