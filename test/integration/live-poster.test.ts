/**
 * A live's poster refresh (live/live-poster.ts) stops with its live or its process: a capture
 * in flight is abandoned, its ffmpeg killed, and nothing is written after stop() resolves
 * (a node shutting down must not write into its data dir once it said it stopped).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { IngestPublisher } from '../../core/live/ingest.js';
import { createLogger } from '../../core/logger.js';
import type { ObjectStore } from '../../core/storage/object-store.js';
import { LivePoster } from '../../live/live-poster.js';
import { FFMPEG } from '../helpers/media-fixtures.js';
import { sleep } from '../helpers/live.js';

/** The ffmpeg processes this test process started that still run. */
function ffmpegChildren(): string[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), '-x', 'ffmpeg'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

t.test('stop() kills a capture in flight and leaves nothing behind', async (t) => {
  const workDir = await mkdtemp(join(tmpdir(), 'framecast-poster-'));
  t.teardown(() => rm(workDir, { recursive: true, force: true }));
  const puts: string[] = [];
  const store = { putFile: async (key: string) => void puts.push(key) } as unknown as ObjectStore;
  // A publisher that sent its FLV header and then nothing: ffmpeg waits for a picture.
  const flvHeader = Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x05, 0, 0, 0, 9, 0, 0, 0, 0]);
  const publisher = {
    id: 'p', protocol: 'rtmp', key: 'k', address: '127.0.0.1',
    metadata: () => ({ width: 0, height: 0, fps: 0, videoKbps: 0, videoCodecId: 7, audioCodecId: 10 }),
    attach: (onData: (tag: Buffer) => void) => {
      onData(flvHeader);
      return () => undefined;
    },
    onClose: () => undefined,
    disconnect: () => undefined,
  } as IngestPublisher;
  const poster = new LivePoster({ liveId: 'live1', store, workDir, ffmpegPath: FFMPEG, intervalS: 60, logger: createLogger('silent') });
  poster.start(publisher);
  // The first capture starts 2 s after the publisher is on air.
  let running: string[] = [];
  for (let i = 0; i < 60 && running.length === 0; i++) {
    await sleep(100);
    running = ffmpegChildren();
  }
  t.equal(running.length, 1, 'a capture is in flight (its ffmpeg waits for a picture)');
  await poster.stop();
  t.same(ffmpegChildren(), [], 'its ffmpeg is gone when stop() resolves');
  t.same(await readdir(workDir), [], 'no poster file is left in the work dir');
  await sleep(500);
  t.same(await readdir(workDir), [], 'and none appears after');
  t.same(puts, [], 'nothing was stored');
});
