/**
 * `captions.generate`: automatic captions of a video's served version in one language.
 * Queued once the ladder is published (the video is ready before it starts) or on request
 * (POST /v1/videos/:id/captions/generate). The source's first audio track is decoded to
 * 16 kHz mono WAV, handed to the `filter:captions.transcribe` hook (a plugin may transcribe
 * it itself) and otherwise to the configured engine; the result replaces the video's
 * automatic track of that language, or becomes a new one (`auto: true`), and is published.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CaptionCatalog } from '../../captions/caption-catalog.js';
import { writeWebVtt } from '../../captions/cues.js';
import { publishTextTracks } from '../../captions/text-track-publisher.js';
import { runFfmpeg, safeInputArgs } from '../../media/ffmpeg.js';
import type { ProbeResult } from '../../media/types.js';
import type { Services } from '../../services.js';
import { objectKeys } from '../../storage/object-store.js';
import type { Transcriber } from '../../transcription/transcriber.js';
import type { JobContext, JobHandler, RunnableJob } from '../runner.js';

/** The label of an automatic track: "English (automatic)". */
export function automaticLabel(language: string): string {
  let name = language;
  try {
    name = new Intl.DisplayNames(['en'], { type: 'language' }).of(language) ?? language;
  } catch {
    /* an unusual tag: keep it as written */
  }
  return `${name} (automatic)`;
}

export function captionsGenerateHandler(s: Services, tools: { ffmpegPath: string; transcriber: Transcriber | undefined }): JobHandler<'captions.generate'> {
  const captions = new CaptionCatalog(s.db.db);

  async function run(job: RunnableJob<'captions.generate'>, ctx: JobContext): Promise<void> {
    const { videoId, language } = job.payload;
    const log = ctx.logger.child({ video_id: videoId, language });
    const video = await s.catalog.find(videoId);
    const version = video && video.current_version > 0 ? await s.catalog.version(videoId, video.current_version) : undefined;
    if (!video || version?.status !== 'ready') {
      log.info('no served version to transcribe (deleted or not ready); nothing to do');
      return;
    }
    const probe = version.probe ? (JSON.parse(version.probe) as Partial<ProbeResult>) : {};
    if (probe.has_audio === false) {
      log.info('the video has no audio; no automatic captions');
      return;
    }
    const workDir = join(s.config.data_dir, 'work', `${videoId}-captions-job${job.id}-a${job.attempts}`);
    await mkdir(workDir, { recursive: true });
    try {
      const sourceKey = objectKeys.source(videoId, video.current_version);
      let sourcePath = s.store.localPath?.(sourceKey);
      if (!sourcePath || !(await s.store.head(sourceKey))) {
        sourcePath = join(workDir, 'source');
        await s.store.download(sourceKey, sourcePath, { signal: ctx.signal });
      }
      const wav = join(workDir, 'speech.wav');
      await runFfmpeg(
        tools.ffmpegPath,
        ['-hide_banner', '-nostdin', '-v', 'error', ...safeInputArgs(sourcePath), '-map', '0:a:0', '-vn', '-ac', '1', '-ar', '16000', '-c:a', 'pcm_s16le', '-y', wav],
        { signal: ctx.signal },
      );
      const started = Date.now();
      const asked = await s.plugins.filter(
        'filter:captions.transcribe',
        { video_id: videoId, language, audio_path: wav, segments: null },
        { video_id: videoId, version: video.current_version },
      );
      let segments = asked.segments;
      let engine = 'plugin';
      if (!segments) {
        if (!tools.transcriber) {
          log.warn('transcription.engine is none and no plugin transcribed the audio; no automatic captions');
          return;
        }
        engine = tools.transcriber.name;
        segments = await tools.transcriber.transcribe(wav, { language, signal: ctx.signal, workDir });
      }
      const vtt = writeWebVtt(segments.map((seg) => ({ startMs: seg.startMs, endMs: Math.max(seg.endMs, seg.startMs + 1), text: seg.text })));
      // Our own automatic track of this language is replaced; tracks people uploaded stay.
      const existing = (await captions.list(videoId)).find((c) => c.auto === 1 && c.language === language);
      const row = existing
        ? await captions.update(videoId, existing.id, { vtt })
        : await captions.create(videoId, { language, label: automaticLabel(language), kind: 'subtitles', auto: true, vtt });
      await publishTextTracks(s, videoId);
      log.info({ caption_id: row.id, engine, segments: segments.length, transcribe_ms: Date.now() - started }, 'automatic captions made');
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  return { run };
}
