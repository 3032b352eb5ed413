/**
 * Automatic captions benchmark: what pocketsphinx transcription costs per minute of audio,
 * and its share of the ladder's time for the same source, on the same machine, same run.
 *
 *   npm run bench:captions [-- --seconds 60]
 *
 * Source: testsrc2 1080p30 with espeak-ng speech (US English, looped to the length), H.264/
 * AAC mp4. Ladder: the transcode worker (core/media/transcode.worker.ts) run directly with
 * the default ladder and preset (veryfast), as the media process runs it. Transcription:
 * what the `captions.generate` job does, i.e. the audio decoded to 16 kHz mono WAV, then the
 * pocketsphinx adapter. Wall clock around each; CPU from this process's reaped children
 * (every ffmpeg and pocketsphinx run is a child that exits before it is read).
 * Each phase waits (up to 2 min) for the machine to be nearly idle; the report prints how
 * much other work ran meanwhile.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { parse } from 'yaml';
import { buildLadder, type RungSpec } from '../core/media/ladder.js';
import { runFfmpeg, safeInputArgs } from '../core/media/ffmpeg.js';
import { probeSource } from '../core/media/probe.js';
import transcode from '../core/media/transcode.worker.js';
import pocketsphinx from '../transcription-adapters/pocketsphinx.js';
import { configSchema } from '../config/schema.js';
import { cpuTimes, machineCpu, waitForQuietMachine } from './proc-stats.js';

const run = promisify(execFile);
const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
const FFPROBE = process.env.FFPROBE_PATH ?? 'ffprobe';
const ROOT = new URL('..', import.meta.url).pathname;

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' } } });
const seconds = Number(values.seconds);

interface Phase {
  wall_s: number;
  cpu_s: number;
  /** Cores of other work on the machine meanwhile. */
  others_cores: number;
}

async function measure(work: () => Promise<unknown>): Promise<Phase> {
  await waitForQuietMachine();
  const cpu0 = cpuTimes('self').children;
  const busy0 = machineCpu().busy;
  const t0 = performance.now();
  await work();
  const wall_s = (performance.now() - t0) / 1000;
  const cpu_s = cpuTimes('self').children - cpu0;
  const others = Math.max(0, machineCpu().busy - busy0 - cpu_s - 0) / wall_s;
  return { wall_s, cpu_s, others_cores: Math.round(others * 100) / 100 };
}

const dir = await mkdtemp(join(tmpdir(), 'framecast-bench-captions-'));
try {
  const speech = join(dir, 'speech.wav');
  await run('espeak-ng', ['-v', 'en-us', '-s', '150', '-w', speech, 'hello world. this is a test of automatic captions. the weather is nice today, and i like to play music with my friends in the evening.']);
  const source = join(dir, 'source.mp4');
  await run(FFMPEG, [
    '-hide_banner', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30',
    '-stream_loop', '-1', '-i', speech,
    '-map', '0:v', '-map', '1:a', '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', source,
  ]);
  const defaults = parse(await readFile(join(ROOT, 'config/default.yaml'), 'utf8')) as Record<string, unknown>;
  const config = configSchema.parse({ ...defaults, data_dir: dir, db: { url: 'sqlite::memory:' }, storage: { url: 'file:x' } });
  const probe = await probeSource(FFPROBE, source, { max_duration_s: 3600, max_pixels: 1920 * 1080 }, { ffmpegPath: FFMPEG });

  const ladder = await measure(async () => {
    await mkdir(join(dir, 'out'), { recursive: true });
    await transcode({
      ffmpegPath: FFMPEG,
      sourcePath: source,
      outDir: join(dir, 'out'),
      probe,
      ladder: buildLadder(probe, config.transcode.ladder as RungSpec[]),
      segmentSeconds: config.transcode.segment_s,
      preset: config.transcode.preset,
      audioKbps: config.transcode.audio_kbps,
      encoder: 'libx264',
      storyboard: config.transcode.storyboard,
    });
  });

  const wav = join(dir, 'speech16k.wav');
  let words = 0;
  const transcription = await measure(async () => {
    await runFfmpeg(FFMPEG, ['-hide_banner', '-nostdin', '-v', 'error', ...safeInputArgs(source), '-map', '0:a:0', '-vn', '-ac', '1', '-ar', '16000', '-c:a', 'pcm_s16le', '-y', wav]);
    const segments = await pocketsphinx(config.transcription, undefined as never).transcribe(wav, { language: 'en', signal: AbortSignal.timeout(3_600_000), workDir: dir });
    words = segments.reduce((n, s) => n + s.text.split(' ').length, 0);
  });

  const minutes = seconds / 60;
  const report = {
    date: new Date().toISOString(),
    source: { seconds, video: '1920x1080 testsrc2 30 fps', audio: 'espeak-ng en-us speech, looped' },
    ladder: { ...ladder, rungs: config.transcode.ladder.length, preset: config.transcode.preset },
    transcription: { ...transcription, engine: 'pocketsphinx', words },
    transcription_wall_s_per_audio_minute: transcription.wall_s / minutes,
    transcription_cpu_s_per_audio_minute: transcription.cpu_s / minutes,
    share_of_ladder_wall: transcription.wall_s / ladder.wall_s,
    share_of_ladder_cpu: transcription.cpu_s / ladder.cpu_s,
  };
  console.log(JSON.stringify(report, null, 2));
  await mkdir(join(ROOT, 'bench/results'), { recursive: true });
  await writeFile(join(ROOT, `bench/results/captions-${report.date.replace(/[:.]/g, '').slice(0, 17)}.json`), JSON.stringify(report, null, 2));
} finally {
  await rm(dir, { recursive: true, force: true });
}
